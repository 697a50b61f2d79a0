/**
 * Shared set-up of the response scenarios (simple query, large memory context, long
 * conversation): who the user is, what they remember, which sessions the samples post to and
 * what they ask. Sizes come from the run profile; nothing here hard-codes a sample count.
 */
import type { ResponseScenario } from '../../lib/verdict/metric-catalog';
import type { PerfProfile } from '../../lib/run/profiles';
import type { MemoryChatApi, SeededSessionRef, Seeder, SeededUser, UserApi } from '../../fixtures';

/** A few everyday facts: the "few memories" of an ordinary user (same style as extracted memories). */
export const EVERYDAY_MEMORIES = [
  'User works as a nurse on night shifts at the regional hospital.',
  "User's favourite food is Thai green curry, as spicy as possible.",
  'User is learning to play the cello and practises on Sunday mornings.',
  'User has a rescue greyhound called Pepper who is scared of thunderstorms.',
  'User prefers short, practical answers over long explanations.',
];

/**
 * Memories the large-context questions are about. They are planted among many seeded ones, so a
 * retriever that puts them into the prompt has to find them (memoriesInPrompt > 0). The first one
 * is also the search target of memory-scaling.spec.ts; the others are near-misses (same name).
 * "Ingrid" never occurs in the seeded corpus, "peanuts" and "allergic" do (many decoys).
 */
export const RELEVANT_MEMORIES = [
  "User's sister Ingrid is severely allergic to peanuts and always carries an EpiPen.",
  'Ingrid is visiting the user for dinner on the first weekend of December.',
  'Ingrid does not eat pork, but she loves grilled salmon with dill.',
];

const QUESTIONS: Record<ResponseScenario, readonly string[]> = {
  'simple-query': [
    'What is a good way to warm up before cello practice?',
    'Can you suggest a quick weeknight dinner?',
    'How do I keep a dog calm during a thunderstorm?',
    'Give me one tip for sleeping better after a night shift.',
  ],
  'large-memory-context': [
    'Ingrid is coming for dinner: what should I cook for her, given her allergy?',
    'What do you remember about my sister Ingrid and peanuts?',
    'Plan a safe menu for Ingrid’s visit in December.',
  ],
  'long-conversation': [
    'Can you summarise what we decided so far?',
    'Going back to what we discussed earlier, what was the next step?',
    'Remind me of the main points of this conversation.',
  ],
};

/** Varied but deterministic: sample i asks question i mod n (no accidental caching of one prompt). */
export function questionFor(scenario: ResponseScenario, index: number): string {
  const list = QUESTIONS[scenario];
  return list[((index % list.length) + list.length) % list.length]!;
}

export interface Scenario {
  name: ResponseScenario;
  owner: SeededUser;
  client: UserApi;
  /** Memories the user has (seeded + planted). */
  memoryCount: number;
  /** Earlier messages each sample's session starts with. */
  historyMessages: number;
  /** A session for one sample: fresh for simple/large context, a seeded long one for long-conversation. */
  nextSession(): Promise<ScenarioSession>;
  /**
   * Makes sure the next `count` calls of nextSession have a session ready: long-conversation
   * seeds the missing ones in bulk (call it with no chat in flight). True when it seeded.
   */
  reserveSessions(count: number): Promise<boolean>;
}

/** A session a scenario chats in; `lastMessageId` is how a UI test knows the session is shown. */
export type ScenarioSession = SeededSessionRef;

/**
 * Seeds the user and data of a scenario. Long-conversation sessions are seeded before any
 * measurement (one per sample, so every sample is "one more message in a conversation of
 * `profile.longConversationMessages` messages" and concurrent samples never share a session).
 */
export async function setupScenario(
  seed: Seeder,
  api: MemoryChatApi,
  name: ResponseScenario,
  profile: PerfProfile,
  /**
   * `sessions`: how many to seed up front, off the clock (long-conversation; more on demand
   * through reserveSessions).
   */
  opts: { sessions: number },
): Promise<Scenario> {
  const owner = await seed.user({ displayName: `perf ${name}` });
  const client = api.as(owner);
  let memoryCount = 0;
  let historyMessages = 0;
  let nextSession: () => Promise<ScenarioSession>;
  let reserveSessions = (_count: number): Promise<boolean> => Promise.resolve(false);

  if (name === 'large-memory-context') {
    const seeded = await seed.memories(owner, profile.largeContextMemories);
    await seed.plantMemories(owner, RELEVANT_MEMORIES);
    memoryCount = seeded.count + RELEVANT_MEMORIES.length;
  } else {
    await seed.plantMemories(owner, EVERYDAY_MEMORIES);
    memoryCount = EVERYDAY_MEMORIES.length;
  }

  if (name === 'long-conversation') {
    historyMessages = profile.longConversationMessages;
    // In bulk: a few statements for all of them (the smoke profile starts with 82 × 200 messages),
    // then fresh planner statistics, before anything is measured.
    const seedSessions = (count: number) => seed.sessions(owner, count, { messagesPerSession: historyMessages });
    const sessions: ScenarioSession[] = opts.sessions > 0 ? await seedSessions(opts.sessions) : [];
    let next = 0;
    nextSession = () => {
      const s = sessions[next++];
      if (s === undefined)
        return Promise.reject(
          new Error(
            `setupScenario: only ${sessions.length} long sessions were seeded; ` +
              'pass a larger opts.sessions or call reserveSessions before the chats',
          ),
        );
      return Promise.resolve(s);
    };
    reserveSessions = async (count) => {
      const missing = next + count - sessions.length;
      if (missing <= 0) return false;
      sessions.push(...(await seedSessions(missing)));
      return true;
    };
  } else {
    let n = 0;
    nextSession = async () => ({
      id: (await client.createSession({ title: `${name} ${++n}` })).id,
      lastMessageId: null,
    });
  }

  return { name, owner, client, memoryCount, historyMessages, nextSession, reserveSessions };
}

/**
 * A handful of samples for derived metrics (ratios, per-size chat checks): a quarter of the
 * profile's API samples, at least 2, so smoke stays fast and perf still has a median.
 */
export function fewSamples(profile: PerfProfile): number {
  return Math.max(2, Math.ceil(profile.apiSamples / 4));
}
