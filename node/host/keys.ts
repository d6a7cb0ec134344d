// The node's persistent libp2p key and the network's pre-shared swarm key, as files in the data dir.
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { generateKey } from '@libp2p/pnet'
import type { PrivateKey } from '@libp2p/interface'

export class KeyFileError extends Error {
  static override name = 'KeyFileError'
  override name = KeyFileError.name
}

/** Loads the Ed25519 peer key from `path`, creating it (mode 0600) on first use. */
export async function loadOrCreatePeerKey (path: string): Promise<PrivateKey> {
  try {
    const bytes = await readFile(path)
    try {
      return privateKeyFromProtobuf(bytes)
    } catch (err) {
      throw new KeyFileError(`${path} is not a libp2p private key`, { cause: err })
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  const key = await generateKeyPair('Ed25519')
  await mkdir(dirname(path), { recursive: true })
  await writeFile(path, privateKeyToProtobuf(key), { mode: 0o600, flag: 'wx' })
  return key
}

/** A new swarm key in the `/key/swarm/psk/1.0.0/` text format. */
export function createSwarmKey (): Uint8Array {
  const key = new Uint8Array(95)
  generateKey(key)
  return key
}

export async function writeSwarmKeyFile (path: string): Promise<Uint8Array> {
  const key = createSwarmKey()
  await mkdir(dirname(path), { recursive: true })
  await writeFile(path, key, { mode: 0o600, flag: 'wx' })
  return key
}

export async function readSwarmKeyFile (path: string): Promise<Uint8Array> {
  const key = await readFile(path)
  if (!new TextDecoder().decode(key).startsWith('/key/swarm/psk/1.0.0/')) throw new KeyFileError(`${path} is not a swarm key file`)
  return new Uint8Array(key)
}
