/** Global setup that fails as an unreachable target does (SYNTH_SETUP_FAIL=1). */
export default function failingSetup(): void {
  throw new Error('MemoryChat is not reachable at BASE_URL=http://127.0.0.1:9 (synthetic). Fix: start the app.');
}
