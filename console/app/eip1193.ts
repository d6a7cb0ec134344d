// A browser wallet as EIP-1193 defines it (MetaMask and others put one at window.ethereum).
export interface Eip1193 { request: (a: { method: string, params?: unknown[] }) => Promise<unknown> }
declare global { interface Window { ethereum?: Eip1193 } }
