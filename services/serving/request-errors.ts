/**
 * What the HTTP layer answers before a route runs — a body that is not JSON, a key that would
 * reach an object's prototype, a schema violation, a malformed URL, headers too large — each
 * in the one error shape `{"error": {"code", "message"}}`, naming what is wrong.
 */
import type { Socket } from 'node:net';
import type { FastifyRequest } from 'fastify';
import { type ErrorCode, httpStatusOf, TributaryError } from '../../shared/errors.ts';

/** The JSON body parser: `JSON.parse`, plus a refusal of keys that would reach a prototype. */
export function parseJsonBody(
  request: FastifyRequest,
  body: string,
  done: (error: Error | null, value?: unknown) => void,
) {
  // No route: the 404 is the answer, whatever the body holds.
  if (request.routeOptions.url === undefined) {
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

/**
 * Where the first `__proto__` key, or `constructor` holding a `prototype`, is, as a path from
 * `body`. Walks with a stack of its own, not by recursion: a body of a million nested arrays
 * (within the size limit) would overflow the call stack.
 */
export function prototypeKeyPath(root: unknown): string | undefined {
  const stack: { value: unknown; at: string }[] = [{ value: root, at: 'body' }];
  while (stack.length > 0) {
    const { value, at } = stack.pop()!;
    if (value === null || typeof value !== 'object') continue;
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) {
        const child = value[i];
        if (child !== null && typeof child === 'object') stack.push({ value: child, at: `${at}[${i}]` });
      }
      continue;
    }
    const keys = Object.keys(value);
    for (const key of keys) {
      const child = (value as Record<string, unknown>)[key];
      if (key === '__proto__') return `${at}.__proto__`;
      if (
        key === 'constructor' &&
        child !== null &&
        typeof child === 'object' &&
        Object.hasOwn(child, 'prototype')
      ) {
        return `${at}.constructor.prototype`;
      }
    }
    for (let k = keys.length - 1; k >= 0; k--) {
      const child = (value as Record<string, unknown>)[keys[k]!];
      if (child !== null && typeof child === 'object') stack.push({ value: child, at: `${at}.${keys[k]}` });
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
  const at = `${dataVar}${first.instancePath.replaceAll('/', '.')}`;
  let message: string;
  switch (first.keyword) {
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
