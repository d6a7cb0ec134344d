export { serveApi, jobJson, resultFile, ApiPortError, type ApiNode, type ApiOptions, type ApiServer } from './server.ts'
export { ROUTES, openApiDocument, type RouteSpec } from './routes.ts'
export { ApiError, statusOf, bodyOf, type ApiErrorBody } from './errors.ts'
export * from './discovery.ts'
