import type { Env } from '../config/env.js';
import { ConfigError } from '../config/yaml-file.js';
import { PERPLEXITY_ASYNC_PATHS } from './async-job.js';
import { basicAuthorization, splitBaseUrl, type BasicCredentials } from './base-url-credentials.js';
import type { JsonMode, LlmConfig } from './llm-config.js';

/**
 * Provider presets: where an OpenAI-compatible endpoint lives, how to authenticate, which structured
 * output mode it understands and whether it has an asynchronous job API. Base URLs come from Env (so
 * every one can be pointed at a stand-in) and keys from Env or the variable a custom provider names.
 * A provider authenticates with its API key (`Authorization: Bearer`) or with the user and password
 * of its base URL (`Authorization: Basic`); one request has one Authorization header, so a provider
 * configured with both is refused here, before any call.
 */
export interface ProviderPreset {
  name: string;
  /** Never carries user:password (see basicAuth). */
  baseURL: string;
  /** Where the base URL is set, for messages ("check PERPLEXITY_BASE_URL"). */
  baseUrlSetting: string;
  /** Never logged, never stored: only the SDK client and the redactor see it. */
  apiKey: string | undefined;
  /** The user and password of the base URL, sent as HTTP Basic auth. Never set together with apiKey. */
  basicAuth: BasicCredentials | undefined;
  /** Every form of basicAuth that could be echoed (password, user:password, Basic token): for the redactor. */
  credentialSecrets: readonly string[];
  /** Where the key comes from, for messages ("set OPENROUTER_API_KEY"). */
  keyEnv: string | undefined;
  headers: Record<string, string>;
  jsonMode: JsonMode;
  /** response_format json_schema is understood (the strongest structured-output mode). */
  supportsJsonSchema: boolean;
  /** Has an asynchronous job API: POST {path} then GET {path}/{id} (Perplexity's async chat completions). */
  supportsAsync: boolean;
  /** The job API's paths under the API root, in the order tried (a 404 moves on to the next); [] without one. */
  asyncPaths: readonly string[];
  /** OpenRouter: ask for usage accounting (`usage: {include: true}`) so `usage.cost` is reported. */
  requestUsageAccounting: boolean;
  builtin: boolean;
}

/** A preset as configured: its base URL may still carry user:password. */
type PresetWithRawUrl = Omit<ProviderPreset, 'basicAuth' | 'credentialSecrets'>;

/** Attribution headers OpenRouter shows on its dashboards; they carry no secret. */
const OPENROUTER_HEADERS = { 'HTTP-Referer': 'https://github.com/llm-trading/llm-trading', 'X-Title': 'LLM Trading' };

function builtinPresets(env: Env): PresetWithRawUrl[] {
  const common = { supportsAsync: false, asyncPaths: [], requestUsageAccounting: false, builtin: true, headers: {} };
  return [
    {
      ...common,
      name: 'requesty',
      baseURL: env.baseUrls.requesty,
      baseUrlSetting: 'REQUESTY_BASE_URL',
      apiKey: env.keys.requesty,
      keyEnv: 'REQUESTY_API_KEY',
      jsonMode: 'json_schema',
      supportsJsonSchema: true,
    },
    {
      ...common,
      name: 'openrouter',
      baseURL: env.baseUrls.openrouter,
      baseUrlSetting: 'OPENROUTER_BASE_URL',
      apiKey: env.keys.openrouter,
      keyEnv: 'OPENROUTER_API_KEY',
      headers: { ...OPENROUTER_HEADERS },
      jsonMode: 'json_schema',
      supportsJsonSchema: true,
      requestUsageAccounting: true,
    },
    {
      ...common,
      name: 'perplexity',
      baseURL: env.baseUrls.perplexity,
      baseUrlSetting: 'PERPLEXITY_BASE_URL',
      apiKey: env.keys.perplexity,
      keyEnv: 'PERPLEXITY_API_KEY',
      jsonMode: 'json_schema',
      supportsJsonSchema: true,
      supportsAsync: true,
      asyncPaths: PERPLEXITY_ASYNC_PATHS,
    },
    {
      ...common,
      name: 'gemini',
      baseURL: env.baseUrls.gemini,
      baseUrlSetting: 'GEMINI_BASE_URL',
      apiKey: env.keys.gemini,
      keyEnv: 'GEMINI_API_KEY',
      jsonMode: 'json_schema',
      supportsJsonSchema: true,
    },
  ];
}

function customPresets(config: LlmConfig, processEnv: NodeJS.ProcessEnv): PresetWithRawUrl[] {
  return Object.entries(config.providers).map(([name, p]) => {
    const key = p.api_key_env ? processEnv[p.api_key_env]?.trim() : undefined;
    return {
      name,
      baseURL: p.base_url,
      baseUrlSetting: `providers.${name}.base_url in config/llm.yaml`,
      apiKey: key === '' ? undefined : key,
      keyEnv: p.api_key_env,
      headers: { ...(p.headers ?? {}) },
      jsonMode: p.json_mode,
      supportsJsonSchema: p.json_mode === 'json_schema',
      supportsAsync: false,
      asyncPaths: [],
      requestUsageAccounting: false,
      builtin: false,
    };
  });
}

/**
 * Every provider by name: the four built-ins, then config/llm.yaml's custom ones. Throws ConfigError
 * for a base URL that is not a URL, or that carries a password while the provider also has a key.
 */
export function resolveProviders(env: Env, config: LlmConfig, processEnv: NodeJS.ProcessEnv = process.env): Map<string, ProviderPreset> {
  return new Map([...builtinPresets(env), ...customPresets(config, processEnv)].map((p) => [p.name, withCredentialsApart(p)]));
}

function withCredentialsApart(preset: PresetWithRawUrl): ProviderPreset {
  const split = splitBaseUrl(preset.baseURL, preset.baseUrlSetting);
  if (split.basic && preset.apiKey !== undefined) {
    const keyEnv = preset.keyEnv ?? 'its API key variable';
    throw new ConfigError(
      `${preset.baseUrlSetting} has a user name and password and ${keyEnv} is set too, but a request carries one ` +
        `Authorization header (Bearer for the key, Basic for the password): remove user:password@ from ` +
        `${preset.baseUrlSetting}, or unset ${keyEnv} to authenticate with the password alone`,
    );
  }
  return { ...preset, baseURL: split.url, basicAuth: split.basic, credentialSecrets: split.secrets };
}

/** The Authorization header a provider needs besides its key, if any (Basic auth from its base URL). */
export function authorizationHeader(preset: ProviderPreset): Record<string, string> {
  return preset.basicAuth ? { Authorization: basicAuthorization(preset.basicAuth) } : {};
}

/** Whether the provider can authenticate: a key, or a user and password in its base URL. */
export function hasCredentials(preset: ProviderPreset): boolean {
  return preset.apiKey !== undefined || preset.basicAuth !== undefined;
}

/** A custom provider without api_key_env is a local server (Ollama, vLLM) that needs no key. */
export function requiresKey(preset: ProviderPreset): boolean {
  return preset.builtin || preset.keyEnv !== undefined;
}

/** Every secret the redactor must hide: all configured keys and base-URL credentials, present or not in use. */
export function secretsOf(providers: Map<string, ProviderPreset>): string[] {
  const secrets = [...providers.values()].flatMap((p) => [...(p.apiKey ? [p.apiKey] : []), ...p.credentialSecrets]);
  return [...new Set(secrets.filter((s) => s.length > 0))];
}

export interface ProviderDescription {
  name: string;
  baseURL: string;
  /**
   * Whether credentials are configured: a key, or a user and password in the base URL — never the
   * credentials themselves.
   */
  keyPresent: boolean;
  /** How requests authenticate: 'bearer' (the key), 'basic' (the base URL's user and password) or 'none'. */
  auth: 'bearer' | 'basic' | 'none';
  /** False for a local server declared without api_key_env: such a provider is usable without a key. */
  keyRequired: boolean;
  keyEnv: string | null;
  jsonMode: JsonMode;
  supportsAsync: boolean;
  builtin: boolean;
}

/** For `llm-trading models`: what each provider points at and whether its key is set. */
export function describeProviders(env: Env, config: LlmConfig, processEnv: NodeJS.ProcessEnv = process.env): ProviderDescription[] {
  return [...resolveProviders(env, config, processEnv).values()].map((p) => ({
    name: p.name,
    baseURL: forScreen(p.baseURL),
    keyPresent: hasCredentials(p),
    auth: p.apiKey !== undefined ? 'bearer' : p.basicAuth ? 'basic' : 'none',
    keyRequired: requiresKey(p),
    keyEnv: p.keyEnv ?? null,
    jsonMode: p.jsonMode,
    supportsAsync: p.supportsAsync,
    builtin: p.builtin,
  }));
}

/** The preset's URL is already without user:password; a ?key= query does not belong on a screen either. */
function forScreen(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    u.search = '';
    return u.toString().replace(/\/$/, '');
  } catch {
    return '<unparseable base URL>';
  }
}
