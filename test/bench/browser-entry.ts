// Bundled by the bench runner for Chromium: exposes the kernels on window.
import { measureCrypto } from './crypto-kernel.ts'

declare global { interface Window { bench?: { measureCrypto: typeof measureCrypto } } }
window.bench = { measureCrypto }
