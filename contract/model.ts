/**
 * Names of the model simulator's latency profiles (`MODEL_SIM_LATENCY`). The suite validates the
 * variable against them; the simulator (app/model-sim/latency.ts) defines what each one means.
 */
export const LATENCY_PROFILES = ['instant', 'realistic', 'slow'] as const;
export type LatencyProfileName = (typeof LATENCY_PROFILES)[number];

/**
 * The bundled simulator's latency switch (Bearer auth like its other endpoints): GET answers
 * `{ latency }`, the profile of requests without an `x-sim-latency` header; PUT `{ latency }`
 * sets it and answers `{ latency, previous }`. Compare mode puts both arms' simulators on
 * `instant` to sample the app's own time in a chat turn one arm after the other, then restores
 * them. Real OpenAI has no such endpoint (404): the suite then measures those times in the duet.
 */
export const SIM_LATENCY_PATH = '/v1/sim/latency';
