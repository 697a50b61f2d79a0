// The contract between MemoryChat and the suite: the only module both app/ and the suite import.
export * from './api';
export * from './ui';
export * from './schema';
export * from './model';
export * from './event-loop';
