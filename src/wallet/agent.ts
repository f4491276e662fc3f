/**
 * The Veramo agent of one profile: KeyManager with kms-local over the sealed private-key
 * store, DIDManager with did:key (Ed25519), Veramo's own did:key resolver (it also derives the
 * X25519 key-agreement key DIDComm needs), and the W3C credential plugin with JWT proofs.
 * wallet.ts imports this module dynamically, so Veramo (~300 KB gzipped) is its own chunk and
 * nothing heavy runs when the wallet's types or errors are imported.
 */
import { createAgent } from '@veramo/core'
import type { ICredentialPlugin, IDIDManager, IKeyManager, IResolver, TAgent } from '@veramo/core'
import { KeyManager } from '@veramo/key-manager'
import { KeyManagementSystem } from '@veramo/kms-local'
import { DIDManager } from '@veramo/did-manager'
import { KeyDIDProvider, getDidKeyResolver } from '@veramo/did-provider-key'
import { DIDResolverPlugin } from '@veramo/did-resolver'
import { CredentialPlugin } from '@veramo/credential-w3c'
import { CredentialProviderJWT } from '@veramo/credential-jwt'
import type { KeyHolder } from './cipher.ts'
import type { WalletDb } from './db.ts'
import { IdbDIDStore, IdbKeyStore, IdbPrivateKeyStore, PRIVATE_KEY_PURPOSE, WebCryptoSecretBox } from './veramo-stores.ts'

export type WalletAgent = TAgent<IKeyManager & IDIDManager & IResolver & ICredentialPlugin>

export const KMS_NAME = 'local'
export const DID_PROVIDER = 'did:key'

export interface AgentParts {
  readonly agent: WalletAgent
  readonly privateKeys: IdbPrivateKeyStore
}

export function createWalletAgent (db: WalletDb, holder: KeyHolder): AgentParts {
  const privateKeys = new IdbPrivateKeyStore(db, new WebCryptoSecretBox(holder, PRIVATE_KEY_PURPOSE))
  const agent = createAgent<IKeyManager & IDIDManager & IResolver & ICredentialPlugin>({
    plugins: [
      new KeyManager({ store: new IdbKeyStore(db), kms: { [KMS_NAME]: new KeyManagementSystem(privateKeys) } }),
      new DIDManager({
        store: new IdbDIDStore(db),
        defaultProvider: DID_PROVIDER,
        providers: { [DID_PROVIDER]: new KeyDIDProvider({ defaultKms: KMS_NAME }) }
      }),
      new DIDResolverPlugin({ ...getDidKeyResolver() }),
      new CredentialPlugin([new CredentialProviderJWT()])
    ]
  })
  return { agent, privateKeys }
}
