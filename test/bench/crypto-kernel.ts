/**
 * Ed25519 sign and verify rates through @noble/curves and through WebCrypto, runnable in Node
 * and (bundled) in Chromium, so both are measured by the same code.
 */
import { ed25519 } from '@noble/curves/ed25519.js'
import { opsPerSecond } from './report.ts'

export interface CryptoRates { nobleSign: number, nobleVerify: number, webcryptoSign: number, webcryptoVerify: number }

export async function measureCrypto (ms = 1000): Promise<CryptoRates> {
  const msg = new TextEncoder().encode('alliance block header '.repeat(8))
  const seed = ed25519.utils.randomSecretKey()
  const pub = ed25519.getPublicKey(seed)
  const sig = ed25519.sign(msg, seed)
  const nobleSign = await opsPerSecond(() => ed25519.sign(msg, seed), ms)
  const nobleVerify = await opsPerSecond(() => ed25519.verify(sig, msg, pub), ms)

  const keys = await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify']) as CryptoKeyPair
  const wsig = await crypto.subtle.sign({ name: 'Ed25519' }, keys.privateKey, msg)
  const webcryptoSign = await opsPerSecond(async () => await crypto.subtle.sign({ name: 'Ed25519' }, keys.privateKey, msg), ms)
  const webcryptoVerify = await opsPerSecond(async () => await crypto.subtle.verify({ name: 'Ed25519' }, keys.publicKey, wsig, msg), ms)
  return { nobleSign, nobleVerify, webcryptoSign, webcryptoVerify }
}
