/**
 * Steps whose figures include no model time (the retriever's own time, SQL statements per chat)
 * need not wait for the model: on the bundled simulator they run on its instant profile, switched
 * for the step and restored after (clients/model.ts). Against a model without the switch (real
 * OpenAI) the step runs as it is. The evidence says which, so no report hides it.
 */
import { configuredModelEndpoint, latencySwitchOf, withInstantModels } from '../../clients/model';
import type { PerfRecorder } from '../../fixtures';
import type { PerfConfig } from '../../lib/run/config';

export async function withoutModelWait<T>(
  perf: PerfRecorder,
  config: PerfConfig,
  step: string,
  body: () => Promise<T>,
): Promise<T> {
  // No model endpoint configured: the chats themselves will say so. An endpoint that did not
  // answer the switch's probe is said as such, not as an endpoint without a switch.
  let unreachable: string | undefined;
  const latencySwitch = await latencySwitchOf(configuredModelEndpoint(config)).catch((err: unknown) => {
    unreachable = err instanceof Error ? err.message : String(err);
    return undefined;
  });
  perf.evidence(
    'harness.model_latency',
    latencySwitch
      ? `${step}: on the simulator's instant profile (default ${latencySwitch.latency}): no model time in them`
      : unreachable
        ? `${step}: on the model as it is (its latency switch could not be read: ${unreachable})`
        : `${step}: on the model as it is (it has no latency switch)`,
    undefined,
  );
  return latencySwitch ? withInstantModels([latencySwitch], body) : body();
}
