/**
 * Request validation with OpenAI's error shapes and wording, so a client's error handling is
 * exercised the same way it would be against api.openai.com.
 */
import type { ChatMessageForCount } from './tokens';

export type OpenAIErrorType = 'invalid_request_error' | 'server_error' | 'authentication_error' | 'not_found_error';

/** An error the simulator answers as `{ error: { message, type, param, code } }`. */
export class SimHttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: OpenAIErrorType = 'invalid_request_error',
    readonly param: string | null = null,
    readonly code: string | null = null,
  ) {
    super(message);
    this.name = 'SimHttpError';
  }

  toBody(): { error: { message: string; type: string; param: string | null; code: string | null } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export const CHAT_MODELS = [
  'gpt-4o-mini',
  'gpt-4o',
  'gpt-4.1',
  'gpt-4.1-mini',
  'gpt-4.1-nano',
  'o4-mini',
  'gpt-4',
  'gpt-3.5-turbo',
];
export const EMBEDDING_MODELS: Record<string, number> = {
  'text-embedding-3-small': 1536,
  'text-embedding-3-large': 3072,
  'text-embedding-ada-002': 1536,
};

/** Any plausible OpenAI model id is accepted (new ones appear often); anything else is a 404 like OpenAI's. */
export function assertKnownModel(model: string): void {
  if (/^(ft:)?(gpt-|chatgpt-|o\d|text-embedding-)/i.test(model)) return;
  throw new SimHttpError(
    404,
    `The model \`${model}\` does not exist or you do not have access to it.`,
    'invalid_request_error',
    null,
    'model_not_found',
  );
}

function contextWindow(model: string): number {
  if (/^(ft:)?gpt-4\.1/.test(model)) return 1_047_576;
  if (/^(ft:)?o\d/.test(model)) return 200_000;
  if (/^(ft:)?gpt-3\.5/.test(model)) return 16_385;
  if (/^(ft:)?gpt-4(-\d{4}|$)/.test(model)) return 8_192;
  return 128_000;
}

function maxOutputTokens(model: string): number {
  if (/^(ft:)?gpt-4\.1/.test(model)) return 32_768;
  if (/^(ft:)?o\d/.test(model)) return 100_000;
  if (/^(ft:)?gpt-3\.5/.test(model)) return 4_096;
  if (/^(ft:)?gpt-4(-\d{4}|$)/.test(model)) return 8_192;
  return 16_384;
}

export function assertWithinContext(model: string, promptTokens: number, maxTokens: number | null): void {
  const limit = contextWindow(model);
  if (promptTokens > limit) {
    throw new SimHttpError(
      400,
      `This model's maximum context length is ${limit} tokens. ` +
        `However, your messages resulted in ${promptTokens} tokens. Please reduce the length of the messages.`,
      'invalid_request_error',
      'messages',
      'context_length_exceeded',
    );
  }
  const maxOut = maxOutputTokens(model);
  if (maxTokens !== null && maxTokens > maxOut) {
    throw new SimHttpError(
      400,
      `max_tokens is too large: ${maxTokens}. ` +
        `This model supports at most ${maxOut} completion tokens, whereas you provided ${maxTokens}.`,
      'invalid_request_error',
      'max_tokens',
      'invalid_value',
    );
  }
}

export const INVALID_JSON_MESSAGE =
  'We could not parse the JSON body of your request. ' +
  "(HINT: This likely means you aren't using your HTTP library correctly. " +
  'The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)';

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A value as OpenAI quotes it in error messages. */
function shown(value: unknown): string {
  return typeof value === 'string' ? value : (JSON.stringify(value) ?? 'undefined');
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'number') return Number.isInteger(value) ? 'an integer' : 'a decimal';
  if (typeof value === 'boolean') return 'a boolean';
  return 'a string';
}

function invalidType(param: string, expected: string, value: unknown): SimHttpError {
  return new SimHttpError(
    400,
    `Invalid type for '${param}': expected ${expected}, but got ${typeName(value)} instead.`,
    'invalid_request_error',
    param,
    'invalid_type',
  );
}

function missing(param: string): SimHttpError {
  return new SimHttpError(
    400,
    `Missing required parameter: '${param}'.`,
    'invalid_request_error',
    param,
    'missing_required_parameter',
  );
}

function numberInRange(body: Json, param: string, min: number, max: number, integer: boolean): number | null {
  const value = body[param];
  if (value === undefined || value === null) return null;
  if (typeof value !== 'number' || !Number.isFinite(value) || (integer && !Number.isInteger(value))) {
    throw invalidType(param, integer ? 'an integer' : 'a decimal', value);
  }
  const kind = integer ? 'integer' : 'decimal';
  if (value < min) {
    throw new SimHttpError(
      400,
      `Invalid '${param}': ${kind} below minimum value. Expected a value >= ${min}, but got ${value} instead.`,
      'invalid_request_error',
      param,
      `${kind}_below_min_value`,
    );
  }
  if (value > max) {
    throw new SimHttpError(
      400,
      `Invalid '${param}': ${kind} above maximum value. Expected a value <= ${max}, but got ${value} instead.`,
      'invalid_request_error',
      param,
      `${kind}_above_max_value`,
    );
  }
  return value;
}

function rejectUnknown(body: Json, allowed: ReadonlySet<string>): void {
  for (const key of Object.keys(body)) {
    if (!allowed.has(key)) throw new SimHttpError(400, `Unrecognized request argument supplied: ${key}`);
  }
}

function requireModel(body: Json): string {
  const model = body.model;
  if (model === undefined || model === null || model === '')
    throw new SimHttpError(400, 'you must provide a model parameter');
  if (typeof model !== 'string') throw invalidType('model', 'a string', model);
  assertKnownModel(model);
  return model;
}

const CHAT_PARAMS = new Set([
  'model',
  'messages',
  'stream',
  'stream_options',
  'max_tokens',
  'max_completion_tokens',
  'temperature',
  'top_p',
  'n',
  'stop',
  'presence_penalty',
  'frequency_penalty',
  'logit_bias',
  'logprobs',
  'top_logprobs',
  'user',
  'seed',
  'response_format',
  'tools',
  'tool_choice',
  'parallel_tool_calls',
  'store',
  'metadata',
  'service_tier',
  'reasoning_effort',
  'modalities',
  'audio',
  'prediction',
  'functions',
  'function_call',
  'web_search_options',
  'verbosity',
  'prompt_cache_key',
  'safety_identifier',
]);
const ROLES = ['system', 'assistant', 'user', 'function', 'tool', 'developer'];

export type ResponseFormat = { type: 'text' } | { type: 'json_object' } | { type: 'json_schema'; schema: unknown };

export interface ChatRequest {
  model: string;
  messages: ChatMessageForCount[];
  stream: boolean;
  includeUsage: boolean;
  /** max_completion_tokens, else max_tokens, else null (model default). */
  maxTokens: number | null;
  responseFormat: ResponseFormat;
  stop: string[];
}

/** Text of a message's content: a string, or the text parts of a content array. */
function contentText(content: unknown, param: string): string {
  if (content === undefined || content === null) return '';
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) throw invalidType(param, 'one of a string or array of objects', content);
  return content
    .map((part, i) => {
      if (!isObject(part)) throw invalidType(`${param}[${i}]`, 'an object', part);
      if (part.type === 'text' || part.type === 'refusal') {
        const text = part.type === 'text' ? part.text : part.refusal;
        if (typeof text !== 'string') throw invalidType(`${param}[${i}].${String(part.type)}`, 'a string', text);
        return text;
      }
      if (typeof part.type !== 'string') throw missing(`${param}[${i}].type`);
      return ''; // images, audio, files: not tokenized by the simulator
    })
    .join('');
}

function parseMessages(value: unknown): ChatMessageForCount[] {
  if (value === undefined || value === null) throw missing('messages');
  if (!Array.isArray(value)) throw invalidType('messages', 'an array', value);
  if (value.length === 0) {
    throw new SimHttpError(
      400,
      "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
      'invalid_request_error',
      'messages',
      'empty_array',
    );
  }
  return value.map((raw, i): ChatMessageForCount => {
    const param = `messages[${i}]`;
    if (!isObject(raw)) throw invalidType(param, 'an object', raw);
    if (raw.role === undefined) throw missing(`${param}.role`);
    if (typeof raw.role !== 'string' || !ROLES.includes(raw.role)) {
      throw new SimHttpError(
        400,
        `Invalid value: '${shown(raw.role)}'. ` +
          "Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'.",
        'invalid_request_error',
        `${param}.role`,
        'invalid_value',
      );
    }
    const hasToolCalls = Array.isArray(raw.tool_calls) && raw.tool_calls.length > 0;
    if (raw.content === undefined && !(raw.role === 'assistant' && (hasToolCalls || raw.function_call !== undefined))) {
      throw missing(`${param}.content`);
    }
    if (raw.role === 'tool' && typeof raw.tool_call_id !== 'string') throw missing(`${param}.tool_call_id`);
    if (raw.name !== undefined && typeof raw.name !== 'string')
      throw invalidType(`${param}.name`, 'a string', raw.name);
    const message: ChatMessageForCount = { role: raw.role, content: contentText(raw.content, `${param}.content`) };
    if (typeof raw.name === 'string') message.name = raw.name;
    if (hasToolCalls) message.toolCalls = JSON.stringify(raw.tool_calls);
    return message;
  });
}

function parseResponseFormat(value: unknown): ResponseFormat {
  if (value === undefined || value === null) return { type: 'text' };
  if (!isObject(value)) throw invalidType('response_format', 'an object', value);
  if (value.type === 'text' || value.type === 'json_object') return { type: value.type };
  if (value.type === 'json_schema') {
    const spec = value.json_schema;
    if (!isObject(spec)) throw missing('response_format.json_schema');
    if (typeof spec.name !== 'string') throw missing('response_format.json_schema.name');
    return { type: 'json_schema', schema: spec.schema };
  }
  throw new SimHttpError(
    400,
    `Invalid value: '${shown(value.type)}'. Supported values are: 'text', 'json_object', and 'json_schema'.`,
    'invalid_request_error',
    'response_format.type',
    'invalid_value',
  );
}

export function parseChatRequest(body: unknown): ChatRequest {
  if (!isObject(body)) throw new SimHttpError(400, INVALID_JSON_MESSAGE);
  rejectUnknown(body, CHAT_PARAMS);
  const model = requireModel(body);
  const messages = parseMessages(body.messages);

  if (body.stream !== undefined && body.stream !== null && typeof body.stream !== 'boolean')
    throw invalidType('stream', 'a boolean', body.stream);
  const stream = body.stream === true;
  let includeUsage = false;
  if (body.stream_options !== undefined && body.stream_options !== null) {
    if (!stream)
      throw new SimHttpError(
        400,
        "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
        'invalid_request_error',
        'stream_options',
      );
    if (!isObject(body.stream_options)) throw invalidType('stream_options', 'an object', body.stream_options);
    includeUsage = body.stream_options.include_usage === true;
  }

  const maxTokens = numberInRange(body, 'max_tokens', 1, Number.MAX_SAFE_INTEGER, true);
  const maxCompletionTokens = numberInRange(body, 'max_completion_tokens', 1, Number.MAX_SAFE_INTEGER, true);
  if (maxTokens !== null && /^(ft:)?o\d/.test(model)) {
    throw new SimHttpError(
      400,
      "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
      'invalid_request_error',
      'max_tokens',
      'unsupported_parameter',
    );
  }
  numberInRange(body, 'temperature', 0, 2, false);
  numberInRange(body, 'top_p', 0, 1, false);
  numberInRange(body, 'presence_penalty', -2, 2, false);
  numberInRange(body, 'frequency_penalty', -2, 2, false);
  const n = numberInRange(body, 'n', 1, 128, true);
  if (n !== null && n !== 1) {
    throw new SimHttpError(
      400,
      'The model simulator supports only n=1.',
      'invalid_request_error',
      'n',
      'unsupported_value',
    );
  }

  let stop: string[] = [];
  if (typeof body.stop === 'string') stop = [body.stop];
  else if (Array.isArray(body.stop)) {
    if (body.stop.length > 4)
      throw new SimHttpError(
        400,
        "Invalid 'stop': array too long. Expected an array with maximum length 4.",
        'invalid_request_error',
        'stop',
        'array_above_max_length',
      );
    stop = body.stop.map((s, i) => {
      if (typeof s !== 'string') throw invalidType(`stop[${i}]`, 'a string', s);
      return s;
    });
  } else if (body.stop !== undefined && body.stop !== null)
    throw invalidType('stop', 'a string or array of strings', body.stop);

  const responseFormat = parseResponseFormat(body.response_format);
  if (responseFormat.type === 'json_object' && !messages.some((m) => /json/i.test(m.content))) {
    throw new SimHttpError(
      400,
      "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.",
      'invalid_request_error',
      'messages',
    );
  }

  return { model, messages, stream, includeUsage, maxTokens: maxCompletionTokens ?? maxTokens, responseFormat, stop };
}

const EMBEDDING_PARAMS = new Set(['model', 'input', 'encoding_format', 'dimensions', 'user']);

export interface EmbeddingRequest {
  model: string;
  /** Each input as text, or as token ids when the client sent tokens. */
  inputs: Array<string | number[]>;
  encodingFormat: 'float' | 'base64';
  dimensions: number;
}

export function parseEmbeddingRequest(body: unknown): EmbeddingRequest {
  if (!isObject(body)) throw new SimHttpError(400, INVALID_JSON_MESSAGE);
  rejectUnknown(body, EMBEDDING_PARAMS);
  const model = requireModel(body);
  const input = body.input;
  if (input === undefined || input === null) throw missing('input');
  let inputs: Array<string | number[]>;
  const isTokens = (v: unknown): v is number[] =>
    Array.isArray(v) && v.length > 0 && v.every((t) => Number.isInteger(t) && (t as number) >= 0);
  if (typeof input === 'string') inputs = [input];
  else if (isTokens(input)) inputs = [input];
  else if (Array.isArray(input) && input.length > 0 && input.every((v): v is string => typeof v === 'string'))
    inputs = input;
  else if (Array.isArray(input) && input.length > 0 && input.every(isTokens)) inputs = input;
  else
    throw new SimHttpError(
      400,
      "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.",
      'invalid_request_error',
      'input',
    );
  if (inputs.length > 2048)
    throw new SimHttpError(
      400,
      "'$.input' is invalid: at most 2048 inputs per request.",
      'invalid_request_error',
      'input',
    );
  if (inputs.some((v) => v === ''))
    throw new SimHttpError(
      400,
      "'$.input' is invalid: empty strings are not allowed.",
      'invalid_request_error',
      'input',
    );

  const format = body.encoding_format ?? 'float';
  if (format !== 'float' && format !== 'base64') {
    throw new SimHttpError(
      400,
      `Invalid value: '${shown(format)}'. Supported values are: 'float' and 'base64'.`,
      'invalid_request_error',
      'encoding_format',
      'invalid_value',
    );
  }
  const nativeDims = EMBEDDING_MODELS[model] ?? 1536;
  let dimensions = nativeDims;
  if (body.dimensions !== undefined && body.dimensions !== null) {
    if (!model.startsWith('text-embedding-3'))
      throw new SimHttpError(
        400,
        'This model does not support specifying dimensions.',
        'invalid_request_error',
        'dimensions',
      );
    dimensions = numberInRange(body, 'dimensions', 1, nativeDims, true) ?? nativeDims;
  }
  return { model, inputs, encodingFormat: format, dimensions };
}
