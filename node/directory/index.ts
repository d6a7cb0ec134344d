export { Directory, roleCid, type DirectoryInit, type DirectoryNode } from './directory.ts'
