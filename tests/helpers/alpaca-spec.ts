import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OpenAPIBackend, type AjvCustomizer, type Document } from 'openapi-backend';

/** openapi-backend's own Ajv 8 (the top-level `ajv` package is eslint's Ajv 6). */
type Ajv = Parameters<AjvCustomizer>[0];

/**
 * Alpaca's official OpenAPI documents (specs/alpaca/, copied unchanged from shared/specs/alpaca) as a validator for
 * the local stand-in: every request it receives and every response it sends is checked against them
 * with openapi-backend (Ajv underneath), so neither our client nor the stand-in can drift from Alpaca.
 *
 * Checked for a request: the path and method exist; path and query parameters and the JSON body match
 * their schemas (types, enums, formats, required); no query parameter the operation does not declare
 * (openapi-backend's own check) and no body property it does not declare (ours: the body schema allows
 * extra properties, so a misspelt `limit_prce` would otherwise pass); both auth headers of the spec's securitySchemes; Content-Type application/json on a
 * body. For a response: the JSON body against the schema of its status, when the spec gives one (the
 * spec documents few error bodies), and X-RateLimit-Limit/-Remaining/-Reset as integers (the spec's
 * components.headers) wherever they appear.
 *
 * Formats. Ajv knows none of the spec's formats by itself, so they are defined here: uuid, date
 * (YYYY-MM-DD), date-time (RFC 3339), decimal (a decimal string), and the numeric double, float,
 * int32, int64, uint32, uint64. In query parameters date-time also accepts YYYY-MM-DD: the market-data
 * spec's own descriptions of start/end say "RFC-3339 or YYYY-MM-DD", and the calendar's start/end
 * (x-go-type legacyTime) are dates in Alpaca's SDKs (alpaca-py sends date.isoformat()).
 */

export type AlpacaApi = 'trading' | 'data';

/** The repository's copy (specs/alpaca/SOURCE.md); ALPACA_SPEC_DIR points elsewhere, e.g. at a newer download. */
export const SPEC_DIR = process.env.ALPACA_SPEC_DIR ?? fileURLToPath(new URL('../../specs/alpaca/', import.meta.url));
export const SPEC_FILES = ['trading-api.json', 'market-data-api.json'] as const;
const FILES: Record<AlpacaApi, string> = { trading: 'trading-api.json', data: 'market-data-api.json' };
const AUTH_HEADERS = ['apca-api-key-id', 'apca-api-secret-key'];
const RATE_LIMIT_HEADERS = ['x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset'];

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i;
const FULL_DATE = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DECIMAL = /^-?\d+(\.\d+)?$/;

function isDateTime(text: string): boolean {
  return RFC3339.test(text) && !Number.isNaN(Date.parse(text.replace(/(\.\d{3})\d+/, '$1')));
}

function isFullDate(text: string): boolean {
  return FULL_DATE.test(text) && !Number.isNaN(Date.parse(`${text}T00:00:00Z`));
}

function addFormats(ajv: Ajv, lenientDateTime: boolean): Ajv {
  ajv.addFormat('uuid', UUID);
  ajv.addFormat('date', isFullDate);
  ajv.addFormat('date-time', lenientDateTime ? (t: string) => isDateTime(t) || isFullDate(t) : isDateTime);
  ajv.addFormat('decimal', DECIMAL);
  ajv.addFormat('ulid', /^[0-9A-HJKMNP-TV-Z]{26}$/i);
  ajv.addFormat('uri', (t: string) => URL.canParse(t));
  ajv.addFormat('binary', () => true);
  ajv.addFormat('double', { type: 'number', validate: (n: number) => Number.isFinite(n) });
  ajv.addFormat('float', { type: 'number', validate: (n: number) => Number.isFinite(n) });
  ajv.addFormat('int32', { type: 'number', validate: (n: number) => Number.isInteger(n) && Math.abs(n) <= 2 ** 31 });
  ajv.addFormat('int64', { type: 'number', validate: (n: number) => Number.isInteger(n) });
  ajv.addFormat('uint32', { type: 'number', validate: (n: number) => Number.isInteger(n) && n >= 0 && n < 2 ** 32 });
  ajv.addFormat('uint64', { type: 'number', validate: (n: number) => Number.isInteger(n) && n >= 0 });
  return ajv;
}

export interface RequestToCheck {
  method: string;
  /** Path relative to the API root, without the query string. */
  path: string;
  query: Record<string, string | string[]>;
  /** Lower-case names. */
  headers: Record<string, string>;
  /** Parsed JSON body, or undefined. */
  body: unknown;
}

export interface RequestCheck {
  operationId: string | null;
  problems: string[];
}

type Json = Record<string, unknown>;

export class AlpacaSpec {
  private constructor(
    private readonly backends: Record<AlpacaApi, OpenAPIBackend>,
    private readonly documents: Record<AlpacaApi, Json>,
  ) {}

  static async load(): Promise<AlpacaSpec> {
    loading ??= (async () => {
      const documents = {} as Record<AlpacaApi, Json>;
      const backends = {} as Record<AlpacaApi, OpenAPIBackend>;
      for (const api of ['trading', 'data'] as const) {
        documents[api] = JSON.parse(readFileSync(join(SPEC_DIR, FILES[api]), 'utf8')) as Json;
        backends[api] = new OpenAPIBackend({
          // A copy: openapi-backend dereferences the document it is given in place.
          definition: structuredClone(documents[api]) as unknown as Document,
          quick: true,
          coerceTypes: true,
          ajvOpts: { logger: false, allErrors: true },
          customizeAjv: (ajv, _opts, context) => addFormats(ajv, context === 'paramsValidator'),
        });
        await backends[api].init();
      }
      return new AlpacaSpec(backends, documents);
    })();
    return loading;
  }

  checkRequest(api: AlpacaApi, req: RequestToCheck): RequestCheck {
    const backend = this.backends[api];
    const request = { method: req.method.toLowerCase(), path: req.path, query: req.query, headers: req.headers, body: req.body };
    const operation = backend.router.matchOperation(request);
    if (!operation) return { operationId: null, problems: [`no operation ${req.method} ${req.path} in the ${api} spec`] };
    const problems: string[] = [];
    const result = backend.validator.validateRequest(request, operation);
    for (const e of result.errors ?? []) problems.push(describe(e, '(request)'));

    if (req.body !== undefined) {
      if (!/^application\/json\b/i.test(req.headers['content-type'] ?? ''))
        problems.push('a JSON body without Content-Type: application/json');
      const schema = this.resolve(api, this.resolve(api, (operation.requestBody as Json | undefined) ?? {}).content as Json | undefined);
      const bodySchema = this.resolve(api, ((schema?.['application/json'] as Json | undefined)?.schema as Json | undefined) ?? {});
      const properties = bodySchema.properties as Json | undefined;
      if (properties && req.body !== null && typeof req.body === 'object' && !Array.isArray(req.body)) {
        for (const key of Object.keys(req.body)) if (!(key in properties)) problems.push(`body property "${key}" is not in the spec`);
      }
    }
    for (const header of AUTH_HEADERS) if (!req.headers[header]) problems.push(`missing auth header ${header}`);
    return { operationId: operation.operationId ?? null, problems };
  }

  checkResponse(api: AlpacaApi, operationId: string, status: number, headers: Record<string, string>, body: unknown): string[] {
    const backend = this.backends[api];
    const problems: string[] = [];
    const operation = backend.router.getOperation(operationId);
    const declared = operation?.responses?.[String(status)] as Json | undefined;
    const response = declared ? this.resolve(api, declared) : undefined;
    const hasSchema = Boolean((response?.content as Json | undefined)?.['application/json']);
    if (operation && hasSchema) {
      const result = backend.validator.validateResponse(body, operation, status);
      for (const e of result.errors ?? []) problems.push(`response ${status} ${describe(e, '(body)')}`);
    }
    for (const name of RATE_LIMIT_HEADERS) {
      const value = headers[name];
      if (value !== undefined && !/^\d+$/.test(value)) problems.push(`header ${name} is not an integer: ${value}`);
    }
    return problems;
  }

  private resolve(api: AlpacaApi, value: Json | undefined): Json {
    let current: Json = value ?? {};
    for (let depth = 0; typeof current.$ref === 'string' && depth < 10; depth++) {
      const parts = (current.$ref as string).replace(/^#\//, '').split('/');
      current = parts.reduce<Json>((node, part) => (node[part] ?? {}) as Json, this.documents[api]);
    }
    return current;
  }
}

let loading: Promise<AlpacaSpec> | undefined;

interface AjvError {
  instancePath: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
}

/** One Ajv error as a line, naming the extra property or the allowed values when there are some. */
function describe(e: AjvError, root: string): string {
  const extra = typeof e.params.additionalProperty === 'string' ? `: "${e.params.additionalProperty}"` : '';
  const allowed = Array.isArray(e.params.allowedValues) ? ` (${e.params.allowedValues.join(', ')})` : '';
  return `${e.instancePath || root} ${e.message ?? e.keyword}${extra}${allowed}`;
}
