export { Directory, roleCid, type DirectoryInit, type DirectoryNode } from './service.ts'
