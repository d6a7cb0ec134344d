/** Simulated time 0, in unix seconds (the Market model's clock is EPOCH + the engine's time). */
export const EPOCH = 1_800_000_000
