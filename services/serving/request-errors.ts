/**
 * What the HTTP layer answers before a route runs — a body that is not JSON, a key that would
 * reach an object's prototype, a schema violation, a malformed URL, headers too large — each
 * in the one error shape `{"error": {"code", "message"}}`, naming what is wrong.
 */
import type { Socket } from 'node:net';
import type { FastifyRequest } from 'fastify';
import { type ErrorCode, httpStatusOf, isTributaryError, TributaryError } from '../../shared/errors.ts';

/** The JSON body parser: `JSON.parse`, plus a refusal of keys that would reach a prototype. */
export function parseJsonBody(
  request: FastifyRequest,
  body: string,
  done: (error: Error | null, value?: unknown) => void,
) {
  // No route: the 404 is the answer, whatever the body holds.
  if (request.is404) {
    done(null, undefined);
    return;
  }
  // RFC 8259 lets a parser ignore a leading byte order mark; some Windows tools write one.
  const text = body.charCodeAt(0) === 0xfeff ? body.slice(1) : body;
  if (text.trim().length === 0) {
    done(new TributaryError('TRIB_BAD_REQUEST', 'the body is empty: send a JSON object'));
    return;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    done(new TributaryError('TRIB_BAD_REQUEST', `the body is not valid JSON: ${(error as Error).message}`));
    return;
  }
  // JSON.parse makes "__proto__" an own key, harmless until code copies it into another
  // object (`row[column] = ...`), where it replaces the prototype. Scanned only when the text
  // could hold such a key, so ordinary bodies pay one substring search.
  const path = text.includes('proto') ? prototypeKeyPath(value) : undefined;
  if (path !== undefined) {
    done(
      new TributaryError(
        'TRIB_BAD_REQUEST',
        `${path} is not allowed as a key (it names an object's prototype)`,
      ),
    );
    return;
  }
  done(null, value);
}

interface Visit {
  value: object;
  key: string | number;
  parent: Visit | undefined;
}

function pathOf(visit: Visit | undefined, last: string): string {
  const parts = [last];
  for (let v = visit; v?.parent !== undefined; v = v.parent) {
    parts.push(typeof v.key === 'number' ? `[${v.key}]` : `.${v.key}`);
  }
  return `body${parts.reverse().join('')}`;
}

/**
 * Where the first `__proto__` key, or `constructor` holding a `prototype`, is, as a path from
 * `body`. Walks with a stack of its own, not by recursion (a body of a million nested arrays,
 * within the size limit, would overflow the call stack), and builds the path only for the key
 * it reports.
 */
export function prototypeKeyPath(root: unknown): string | undefined {
  if (root === null || typeof root !== 'object') return undefined;
  const stack: Visit[] = [{ value: root, key: '', parent: undefined }];
  while (stack.length > 0) {
    const visit = stack.pop()!;
    const value = visit.value;
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) {
        const child: unknown = value[i];
        if (child !== null && typeof child === 'object') stack.push({ value: child, key: i, parent: visit });
      }
      continue;
    }
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record);
    for (const key of keys) {
      if (key === '__proto__') return pathOf(visit, '.__proto__');
      const child = record[key];
      if (
        key === 'constructor' &&
        child !== null &&
        typeof child === 'object' &&
        Object.hasOwn(child, 'prototype')
      ) {
        return pathOf(visit, '.constructor.prototype');
      }
    }
    for (let k = keys.length - 1; k >= 0; k--) {
      const child = record[keys[k]!];
      if (child !== null && typeof child === 'object')
        stack.push({ value: child, key: keys[k]!, parent: visit });
    }
  }
  return undefined;
}

interface SchemaError {
  instancePath: string;
  keyword: string;
  params: Record<string, unknown>;
  message?: string;
}

/** A validation failure as one sentence naming the property (ajv's own text names none). */
export function formatSchemaErrors(errors: readonly SchemaError[], dataVar: string): Error {
  const first = errors[0];
  if (!first) return new TributaryError('TRIB_BAD_REQUEST', `${dataVar} is not valid`);
  const at = dataVar + propertyPath(first.instancePath);
  let message: string;
  switch (first.keyword) {
    case 'type':
      message =
        at === 'body' && first.params['type'] === 'object'
          ? 'the body must be a JSON object, sent as application/json'
          : `${at} must be ${articled(String(first.params['type']))}`;
      break;
    case 'additionalProperties':
      message = `${at} has an unknown property '${String(first.params['additionalProperty'])}'`;
      break;
    case 'required':
      message = `${at} must have the property '${String(first.params['missingProperty'])}'`;
      break;
    case 'enum':
      message = `${at} must be one of ${JSON.stringify(first.params['allowedValues'])}`;
      break;
    default:
      message = `${at} ${first.message ?? 'is not valid'}`;
  }
  return new TributaryError('TRIB_BAD_REQUEST', message);
}

/** A JSON pointer (`/entities/driver_id/0`) as a property path (`.entities.driver_id[0]`). */
function propertyPath(pointer: string): string {
  if (pointer === '') return '';
  let path = '';
  for (const raw of pointer.slice(1).split('/')) {
    const part = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    path += /^(?:0|[1-9][0-9]*)$/.test(part) ? `[${part}]` : `.${part}`;
  }
  return path;
}

function articled(type: string): string {
  return `${/^[aeiou]/.test(type) ? 'an' : 'a'} ${type}`;
}

/** The 415 message: which content types the route takes. */
export function unsupportedMediaTypeMessage(
  contentType: string | undefined,
  accepted: readonly string[],
): string {
  const given = contentType ? `content type '${contentType}'` : 'a body without a content type';
  return `${given} is not accepted here: send ${accepted.join(' or ')}`;
}

function rawErrorResponse(status: number, code: ErrorCode, message: string): string {
  const body = JSON.stringify({ error: { code, message } });
  const reason = status === 431 ? 'Request Header Fields Too Large' : 'Bad Request';
  return (
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
  );
}

/** Node's HTTP parser refusing a request (headers too large, malformed request line). */
export function clientErrorHandler(error: Error & { code?: string }, socket: Socket): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  if (error.code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  const response =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? rawErrorResponse(
          httpStatusOf('TRIB_HEADERS_TOO_LARGE'),
          'TRIB_HEADERS_TOO_LARGE',
          'the request headers are too large (at most 16 KiB in all)',
        )
      : rawErrorResponse(
          400,
          'TRIB_BAD_REQUEST',
          `the request is not valid HTTP (${error.code ?? error.message})`,
        );
  socket.end(response);
}

/**
 * A failed produce of a request's rows, as the client should see it: the stream's own code
 * kept (TRIB_MESSAGE_TOO_LARGE is 413, TRIB_STREAM_REFUSED 502, TRIB_STREAM_UNAVAILABLE 503),
 * the topic named. Anything uncoded is an unavailable stream.
 */
export function produceFailure(error: unknown, topic: string): TributaryError {
  const code = isTributaryError(error) ? error.code : 'TRIB_STREAM_UNAVAILABLE';
  const reason = error instanceof Error ? error.message : String(error);
  return new TributaryError(code, `could not produce to '${topic}': ${reason}`, {
    cause: error,
    details: { topic },
  });
}
