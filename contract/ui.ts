/**
 * The chat UI's side of the contract: the `data-testid`s the suite drives and the localStorage key
 * the UI reads its bearer token from. The reference UI (app/ui, plain JavaScript) spells them out
 * literally; app/test/ui-contract.test.ts fails when one of them goes missing there.
 */

/** Every `data-testid` the suite's page object uses. */
export const UI_TEST_IDS = {
  errorBanner: 'error-banner',
  newSessionButton: 'new-session-button',
  sessionList: 'session-list',
  sessionItem: 'session-item',
  messageList: 'message-list',
  message: 'message',
  messageContent: 'message-content',
  messageInput: 'message-input',
  sendButton: 'send-button',
  memoryPanel: 'memory-panel',
  memorySearchInput: 'memory-search-input',
  memorySearchButton: 'memory-search-button',
  memoryResult: 'memory-result',
} as const;
export type UiTestId = (typeof UI_TEST_IDS)[keyof typeof UI_TEST_IDS];

/** The UI keeps the bearer token of `POST /api/users` here; the suite sets it before the page loads. */
export const TOKEN_STORAGE_KEY = 'memorychat.token';
