/**
 * Sessions (white paper 5.6.1, DESIGN "Sessions"): signed session requests and their ids, round
 * vouchers, the voucher sequence rules (SPEC V1–V10) and the two sides' pure state machines
 * (SPEC F1–F7). Pure: no I/O, no clock.
 */
export * from './errors.ts'
export * from './terms.ts'
export * from './request.ts'
export * from './voucher.ts'
export * from './book.ts'
export * from './machine.ts'
