/**
 * The encrypted backup file: JSON text
 * `{format:'alliance-net-backup', version:1, kdf:{name:'PBKDF2',hash:'SHA-256',iterations,salt}, iv, ciphertext}`
 * (salt, iv, ciphertext in base64url). The ciphertext is AES-256-GCM under a PBKDF2 key of the
 * backup passphrase, with the header as associated data, so editing the iteration count or
 * salt breaks decryption instead of weakening it. The plaintext holds the seed, the DID and the
 * credential JWTs. Parsing is bounded and checks every field: the file comes from outside.
 */
import { fromBase64url, toBase64url, fromHex, toHex } from '../core/bytes.ts'
import { didFromPublicKey, keyPairFromSeed, SEED_BYTES } from '../core/identity.ts'
import { DecryptError } from './errors.ts'
import { BadBackupError, WrongPassphraseError } from './errors.ts'
import { IV_BYTES, SALT_BYTES, assertIterations, derivePassphraseKey, fromUtf8, open, randomBytes, seal, utf8 } from './cipher.ts'
import { MAX_JWT_CHARS } from './credentials.ts'

export const BACKUP_FORMAT = 'alliance-net-backup'
export const BACKUP_VERSION = 1
/** 1,000 credentials of the largest size still fit; a bigger paste is not ours. */
export const MAX_BACKUP_CHARS = 96 * 1024 * 1024
const MAX_CREDENTIALS = 1000

export interface BackupFile {
  readonly format: typeof BACKUP_FORMAT
  readonly version: typeof BACKUP_VERSION
  readonly kdf: { readonly name: 'PBKDF2', readonly hash: 'SHA-256', readonly iterations: number, readonly salt: string }
  readonly iv: string
  readonly ciphertext: string
}

/** What a backup restores. */
export interface BackupContent {
  readonly did: string
  readonly seed: Uint8Array
  readonly createdAt: string
  readonly credentials: readonly string[]
}

function headerAad (file: Pick<BackupFile, 'format' | 'version' | 'kdf'>): Uint8Array<ArrayBuffer> {
  return utf8(JSON.stringify([file.format, file.version, file.kdf.name, file.kdf.hash, file.kdf.iterations, file.kdf.salt]))
}

export async function sealBackup (content: BackupContent, passphrase: string, iterations: number): Promise<string> {
  const salt = randomBytes(SALT_BYTES)
  const header = {
    format: BACKUP_FORMAT,
    version: BACKUP_VERSION,
    kdf: { name: 'PBKDF2', hash: 'SHA-256', iterations, salt: toBase64url(salt) }
  } as const
  const key = await derivePassphraseKey(passphrase, salt, iterations)
  const plain = utf8(JSON.stringify({ did: content.did, seed: toHex(content.seed), createdAt: content.createdAt, credentials: content.credentials }))
  let sealed: Uint8Array
  try {
    sealed = await seal(key, plain, headerAad(header))
  } finally {
    plain.fill(0)
  }
  const file: BackupFile = { ...header, iv: toBase64url(sealed.subarray(0, IV_BYTES)), ciphertext: toBase64url(sealed.subarray(IV_BYTES)) }
  return JSON.stringify(file, null, 2)
}

function bad (why: string): BadBackupError {
  return new BadBackupError(`not a usable alliance-net backup: ${why}`)
}

function b64 (value: unknown, what: string, length?: number): Uint8Array {
  if (typeof value !== 'string') throw bad(`${what} is missing`)
  let bytes: Uint8Array
  try {
    bytes = fromBase64url(value)
  } catch {
    throw bad(`${what} is not base64url`)
  }
  if (length !== undefined && bytes.length !== length) throw bad(`${what} must be ${length} bytes`)
  return bytes
}

/** Checks the outer JSON (no secrets needed); throws BadBackupError or WeakKdfError. */
export function parseBackup (text: unknown, allowInsecureForTests: boolean): BackupFile {
  if (typeof text !== 'string') throw bad('expected the text of the file')
  if (text.length > MAX_BACKUP_CHARS) throw bad('the file is too large')
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw bad('it is not JSON')
  }
  const v = value as Partial<BackupFile> | null
  if (typeof v !== 'object' || v === null || v.format !== BACKUP_FORMAT) throw bad('the format field is not "alliance-net-backup"')
  if (v.version !== BACKUP_VERSION) throw bad(`version ${String(v.version)} is not supported (this app reads version ${BACKUP_VERSION})`)
  const kdf = v.kdf
  if (typeof kdf !== 'object' || kdf === null || kdf.name !== 'PBKDF2' || kdf.hash !== 'SHA-256') throw bad('the key derivation must be PBKDF2 with SHA-256')
  assertIterations(kdf.iterations, allowInsecureForTests)
  b64(kdf.salt, 'kdf.salt', SALT_BYTES)
  b64(v.iv, 'iv', IV_BYTES)
  b64(v.ciphertext, 'ciphertext')
  return { format: BACKUP_FORMAT, version: BACKUP_VERSION, kdf: { name: 'PBKDF2', hash: 'SHA-256', iterations: kdf.iterations, salt: kdf.salt as string }, iv: v.iv as string, ciphertext: v.ciphertext as string }
}

/**
 * Decrypts and checks the content. AES-GCM cannot tell a wrong passphrase from an edited file;
 * both read as WrongPassphraseError (its message says so). Content that decrypts but does not
 * add up (seed not matching the DID, …) is BadBackupError.
 */
export async function openBackup (file: BackupFile, passphrase: string): Promise<BackupContent> {
  const key = await derivePassphraseKey(passphrase, b64(file.kdf.salt, 'kdf.salt', SALT_BYTES), file.kdf.iterations)
  const iv = b64(file.iv, 'iv', IV_BYTES)
  const ct = b64(file.ciphertext, 'ciphertext')
  const sealed = new Uint8Array(iv.length + ct.length)
  sealed.set(iv, 0)
  sealed.set(ct, iv.length)
  let plain: Uint8Array
  try {
    plain = await open(key, sealed, headerAad(file))
  } catch (err) {
    if (err instanceof DecryptError) throw new WrongPassphraseError('wrong passphrase for this backup (or the file was altered)', { cause: err })
    throw err
  }
  let content: unknown
  try {
    content = JSON.parse(fromUtf8(plain))
  } catch (err) {
    throw new BadBackupError('the backup decrypts but its content is not JSON', { cause: err })
  } finally {
    plain.fill(0)
  }
  const c = content as { did?: unknown, seed?: unknown, createdAt?: unknown, credentials?: unknown } | null
  if (typeof c !== 'object' || c === null) throw bad('the content is not an object')
  if (typeof c.seed !== 'string' || c.seed.length !== SEED_BYTES * 2) throw bad('the seed is missing')
  let seed: Uint8Array
  try {
    seed = fromHex(c.seed)
  } catch {
    throw bad('the seed is not hex')
  }
  if (typeof c.did !== 'string' || didFromPublicKey(keyPairFromSeed(seed).publicKey) !== c.did) throw bad('the seed does not belong to the DID it names')
  const createdAt = typeof c.createdAt === 'string' && !Number.isNaN(Date.parse(c.createdAt)) ? c.createdAt : new Date(0).toISOString()
  const list = c.credentials ?? []
  if (!Array.isArray(list) || list.length > MAX_CREDENTIALS || !list.every((j) => typeof j === 'string' && j.length <= MAX_JWT_CHARS)) {
    throw bad('the credential list is not a list of JWTs')
  }
  return { did: c.did, seed, createdAt, credentials: list as string[] }
}
