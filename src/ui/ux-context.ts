/**
 * React access to the address book and to navigation between screens: the book is opened
 * outside React (App) and handed in through a context; components re-render when it changes.
 * Navigation carries a small intent (pay this DID, message that one, make the backup) to the
 * screen it opens.
 */
import { createContext, useContext, useSyncExternalStore } from 'react'
import type { ContactsBook } from '../peer/contacts-api.ts'

export const ContactsContext = createContext<ContactsBook | null>(null)

export function useContacts (): ContactsBook {
  const book = useContext(ContactsContext)
  if (book == null) throw new Error('useContacts outside of ContactsContext')
  useSyncExternalStore((cb) => book.subscribe(cb), () => book.version)
  return book
}

export type Tab = 'wallet' | 'ledger' | 'market' | 'peers'
export interface Intent { readonly pay?: string, readonly message?: string, readonly backup?: boolean }
export interface Nav { readonly go: (tab: Tab, intent?: Intent) => void, readonly intent: Intent, readonly clearIntent: () => void }

export const NavContext = createContext<Nav>({ go: () => {}, intent: {}, clearIntent: () => {} })
export function useNav (): Nav { return useContext(NavContext) }
