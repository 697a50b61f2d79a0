/**
 * The figures the streamed API chats of one response scenario leave for the evidence and the
 * correctness checks, collected sample by sample (the metrics themselves go to the recorder).
 */
import type { StreamTiming } from './stream';

export class ChatSamples {
  /** Stream protocol problems, `sample i: …` (warm-up chats included). */
  readonly problems: string[] = [];
  /** Messages over the app's token budget, `sample i: total > budget`. */
  readonly overBudget: string[] = [];
  /** Indices of the samples whose prompt had no memories. */
  readonly withoutMemories: number[] = [];
  /** Round trip − model time: the app overhead seen by the client (network and SSE framing too), ms. */
  readonly clientOverhead: number[] = [];
  /** The app's own time outside the model calls (`done.timing`), ms. */
  readonly serverOverhead: number[] = [];
  /** Client clock, request start → `done`, ms. */
  readonly roundTrips: number[] = [];
  /** Completion tokens of the conversation agent. */
  readonly conversationCompletion: number[] = [];
  /** SQL statements per chat as the app reports them (`done.timing.dbQueries`). */
  readonly statementsPerChat: number[] = [];
  /** Chats that ended with a reply, warm-ups included: what a database-wide count around them saw. */
  repliedChats = 0;

  /**
   * Every reply, warm-up included: counted, and its stream problems kept (a warm-up reply must be
   * well-formed too).
   */
  addReply(index: number, problems: readonly string[]): void {
    this.repliedChats++;
    this.problems.push(...problems.map((p) => `sample ${index}: ${p}`));
  }

  /** A measured (not warm-up) sample. */
  add(index: number, stream: StreamTiming): void {
    const { usage, timing } = stream.done;
    for (const a of usage.agents)
      if (a.agent === 'conversation' && a.status === 'ok' && a.model)
        this.conversationCompletion.push(a.completionTokens);
    if (timing.dbQueries !== undefined) this.statementsPerChat.push(timing.dbQueries);
    this.clientOverhead.push(stream.totalMs - timing.modelMs);
    this.serverOverhead.push(timing.totalMs - timing.modelMs);
    this.roundTrips.push(stream.totalMs);
    if (usage.totalTokens > usage.budget)
      this.overBudget.push(`sample ${index}: ${usage.totalTokens} > ${usage.budget}`);
    if (usage.memoriesInPrompt <= 0) this.withoutMemories.push(index);
  }
}
