/**
 * Names of the model simulator's latency profiles (`MODEL_SIM_LATENCY`). The suite validates the
 * variable against them; the simulator (app/model-sim/latency.ts) defines what each one means.
 */
export const LATENCY_PROFILES = ['instant', 'realistic', 'slow'] as const;
export type LatencyProfileName = (typeof LATENCY_PROFILES)[number];
