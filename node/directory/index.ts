export { Directory, roleCid, readNodeRecord, directoryResolver, type DirectoryInit, type DirectoryNode, type PublishLoopOptions } from './directory.ts'
