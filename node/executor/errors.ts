// Executor failures. A job that runs and exits non-zero is NOT one of these: that is a result.
export class DockerUnavailableError extends Error {
  static override name = 'DockerUnavailableError'
  override name = 'DockerUnavailableError'
  readonly hint = 'start the Docker engine (dockerd) or point DOCKER_HOST / the socket path at a running one'
}

export class ImageMissingError extends Error {
  static override name = 'ImageMissingError'
  override name = 'ImageMissingError'
  readonly image: string
  readonly hint = 'build built-in module images with ensureBuiltinImages(), or load/pull the image on this machine'
  constructor (image: string, detail?: string, cause?: unknown) {
    super(`image ${image} is not present${detail !== undefined ? ` (${detail})` : ''}`, { cause })
    this.image = image
  }
}

export class InsufficientDiskError extends Error {
  static override name = 'InsufficientDiskError'
  override name = 'InsufficientDiskError'
  readonly freeBytes: number
  readonly neededBytes: number
  constructor (path: string, freeBytes: number, neededBytes: number) {
    super(`only ${freeBytes} bytes free under ${path}, the job needs ${neededBytes}`)
    this.freeBytes = freeBytes
    this.neededBytes = neededBytes
  }
}

export class GpuUnavailableError extends Error {
  static override name = 'GpuUnavailableError'
  override name = 'GpuUnavailableError'
  readonly requested: number
  constructor (requested: number, reason: string) {
    super(`the job asks for ${requested} GPU(s) but ${reason}`)
    this.requested = requested
  }
}

export class OutputTooLargeError extends Error {
  static override name = 'OutputTooLargeError'
  override name = 'OutputTooLargeError'
  readonly limitBytes: number
  constructor (limitBytes: number) {
    super(`the job's outputs exceeded the ${limitBytes}-byte cap`)
    this.limitBytes = limitBytes
  }
}

export class ExecutionAbortedError extends Error {
  static override name = 'ExecutionAbortedError'
  override name = 'ExecutionAbortedError'
}
