// The app's one way to the hub: every call goes through `call`, with the
// session cookie (never a token the page could read), and every refusal
// becomes an `ApiFailure` carrying the hub's own words.
import type { paths as cloudPaths } from './api/cloud';
import type { paths } from './api/schema';
import { BASE_PATH } from './router';

type JsonOf<R> = R extends { content: { 'application/json': infer B } } ? B : never;
type AnswerIn<Op, S extends number> = Op extends { responses: infer R } ? (S extends keyof R ? JsonOf<R[S]> : never) : never;
type BodyIn<Op> = Op extends { requestBody?: infer B } ? JsonOf<NonNullable<B>> : never;

/** The JSON a successful `M P` of the hub's API answers with `S`. */
export type Answer<P extends keyof paths, M extends keyof paths[P], S extends number = 200> = AnswerIn<paths[P][M], S>;

/** The JSON body `M P` of the hub's API takes. */
export type RequestBody<P extends keyof paths, M extends keyof paths[P]> = BodyIn<paths[P][M]>;

/** The same two for the cloud's own API (`/cloud/v1`). */
type CloudAnswer<P extends keyof cloudPaths, M extends keyof cloudPaths[P]> = AnswerIn<cloudPaths[P][M], 200>;
type CloudBody<P extends keyof cloudPaths, M extends keyof cloudPaths[P]> = BodyIn<cloudPaths[P][M]>;

export type Health = Answer<'/health', 'get'>;
export type Trust = Answer<'/trust', 'get'>;
export type Me = Answer<'/me', 'get'>;
export type Device = Answer<'/devices', 'get'>[number];
export type Session = Answer<'/sessions', 'get'>[number];
export type DeviceDetail = Answer<'/devices/{id}', 'get'>;
export type Datastream = DeviceDetail['definition']['datastreams'][number];
export type History = Answer<'/devices/{id}/history', 'get'>;
export type StoredEvent = Answer<'/devices/{id}/events', 'get'>[number];
export type Org = Answer<'/orgs', 'get'>[number];
export type Member = Answer<'/members', 'get'>[number];
export type Role = Answer<'/roles', 'get'>[number];
export type Invited = Answer<'/members', 'post', 201>;
export type Holder = Answer<'/devices/{id}/access', 'get'>[number];
export type Reason = Holder['reasons'][number];
export type AuditEntry = Answer<'/audit', 'get'>[number];
export type Transferred = Answer<'/devices/{id}/transfer', 'post'>;
export type Template = Answer<'/templates', 'get'>[number];
export type Definition = Template['definition'];
export type Connect = Answer<'/connect', 'get'>;
export type SyncStatus = Answer<'/sync/status', 'get'>;
export type SyncLink = SyncStatus['peers'][number];
export type HubView = Answer<'/hubs', 'get'>[number];
export type PairingCode = Answer<'/hubs/pairing', 'post'>;
export type Waiting = Answer<'/ble/inbox', 'get'>[number];
export type Bridge = Answer<'/bridges', 'get'>[number];
export type Aggregation = 'raw' | 'minute' | 'hour';
export type Outcome = Answer<'/devices/{id}/values/{pin}', 'put'>['outcome'];

/** A refusal or failure, in words a person can read. */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly permission?: string,
  ) {
    super(message);
  }
}

const BASE = BASE_PATH + '/api/v1';

async function call<T>(method: string, path: string, body?: unknown, base = BASE): Promise<T> {
  let response: Response;
  try {
    response = await fetch(base + path, {
      method,
      credentials: 'same-origin',
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiFailure(0, 'unreachable', 'The hub cannot be reached. Check that you are on its network.');
  }
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  let json: unknown = undefined;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    // Not JSON: said below in plain words.
  }
  if (!response.ok) {
    const refusal = (json ?? {}) as { code?: string; message?: string; permission?: string };
    throw new ApiFailure(
      response.status,
      refusal.code ?? 'failed',
      refusal.message ?? `The hub answered ${response.status} ${response.statusText}.`,
      refusal.permission,
    );
  }
  return json as T;
}

/** How a browser names its session in the session list. */
function label(): string {
  const ua = navigator.userAgent;
  const browser = /Firefox/.test(ua) ? 'Firefox' : /Edg\//.test(ua) ? 'Edge' : /Chrom/.test(ua) ? 'Chromium' : /Safari/.test(ua) ? 'Safari' : 'browser';
  const device = /Android/.test(ua) ? 'Android' : /iPhone|iPad/.test(ua) ? 'iOS' : /Mac/.test(ua) ? 'Mac' : /Windows/.test(ua) ? 'Windows' : /Linux/.test(ua) ? 'Linux' : '';
  return `${browser}${device ? ' on ' + device : ''} (app)`;
}

export const api = {
  health: () => call<Health>('GET', '/health'),
  trust: () => call<Trust>('GET', '/trust'),
  setup: (code: string, household: string, email: string, password: string) =>
    call<Answer<'/setup', 'post', 201>>('POST', '/setup', {
      code, household, email, password, label: label(), cookie: true,
    } satisfies RequestBody<'/setup', 'post'>),
  login: (email: string, password: string) =>
    call<Answer<'/login', 'post'>>('POST', '/login', {
      email, password, label: label(), cookie: true,
    } satisfies RequestBody<'/login', 'post'>),
  acceptInvite: (code: string, password: string) =>
    call<Answer<'/invites/accept', 'post'>>('POST', '/invites/accept', {
      code, password, label: label(), cookie: true,
    } satisfies RequestBody<'/invites/accept', 'post'>),
  logout: () => call<void>('POST', '/logout'),
  me: () => call<Me>('GET', '/me'),
  devices: () => call<Device[]>('GET', '/devices'),
  device: (id: string) => call<DeviceDetail>('GET', `/devices/${encodeURIComponent(id)}`),
  write: (id: string, pin: number, value: string | number) =>
    call<{ outcome: Outcome }>('PUT', `/devices/${encodeURIComponent(id)}/values/V${pin}`, {
      value,
    } satisfies RequestBody<'/devices/{id}/values/{pin}', 'put'>),
  history: (id: string, pin: number, from: number, to: number, aggregation: Aggregation) =>
    call<History>('GET', `/devices/${encodeURIComponent(id)}/history?` + new URLSearchParams({
      pin: `V${pin}`, from: String(from), to: String(to), aggregation, limit: '10000',
    })),
  events: (id: string) => call<StoredEvent[]>('GET', `/devices/${encodeURIComponent(id)}/events?limit=200`),
  sessions: () => call<Session[]>('GET', '/sessions'),
  endSession: (id: string) => call<void>('DELETE', `/sessions/${encodeURIComponent(id)}`),
  orgs: () => call<Org[]>('GET', '/orgs'),
  createOrg: (parent: string, name: string) =>
    call<{ id: string }>('POST', '/orgs', { parent, name } satisfies RequestBody<'/orgs', 'post'>),
  renameOrg: (id: string, name: string) =>
    call<void>('PATCH', `/orgs/${encodeURIComponent(id)}`, { name } satisfies RequestBody<'/orgs/{id}', 'patch'>),
  deleteOrg: (id: string) => call<void>('DELETE', `/orgs/${encodeURIComponent(id)}`),
  members: () => call<Member[]>('GET', '/members'),
  invite: (email: string, org: string, role: string) =>
    call<Invited>('POST', '/members', { email, org, role } satisfies RequestBody<'/members', 'post'>),
  changeRole: (membership: string, role: string) =>
    call<void>('PATCH', `/members/${encodeURIComponent(membership)}`, { role } satisfies RequestBody<'/members/{id}', 'patch'>),
  removeMember: (membership: string) =>
    call<Answer<'/members/{id}', 'delete'>>('DELETE', `/members/${encodeURIComponent(membership)}`),
  resetPassword: (user: string) =>
    call<Answer<'/users/{id}/password-reset', 'post', 201>>('POST', `/users/${encodeURIComponent(user)}/password-reset`),
  roles: () => call<Role[]>('GET', '/roles'),
  createRole: (org: string, name: string, permissions: string[]) =>
    call<{ id: string }>('POST', '/roles', { org, name, permissions } satisfies RequestBody<'/roles', 'post'>),
  editRole: (id: string, permissions: string[]) =>
    call<void>('PATCH', `/roles/${encodeURIComponent(id)}`, { permissions } satisfies RequestBody<'/roles/{id}', 'patch'>),
  deleteRole: (id: string) => call<void>('DELETE', `/roles/${encodeURIComponent(id)}`),
  access: (device: string) => call<Holder[]>('GET', `/devices/${encodeURIComponent(device)}/access`),
  share: (device: string, body: RequestBody<'/devices/{id}/shares', 'post'>) =>
    call<{ id: string }>('POST', `/devices/${encodeURIComponent(device)}/shares`, body),
  unshare: (share: string) => call<void>('DELETE', `/shares/${encodeURIComponent(share)}`),
  transfer: (device: string, to: string, org?: string) =>
    call<Transferred>('POST', `/devices/${encodeURIComponent(device)}/transfer`, { to, org } satisfies RequestBody<'/devices/{id}/transfer', 'post'>),
  move: (device: string, org: string) =>
    call<void>('POST', `/devices/${encodeURIComponent(device)}/move`, { org } satisfies RequestBody<'/devices/{id}/move', 'post'>),
  audit: () => call<AuditEntry[]>('GET', '/audit'),
  connect: () => call<Connect>('GET', '/connect'),
  addDevice: (org: string, name: string, template?: string) =>
    call<Answer<'/devices', 'post', 201>>('POST', '/devices', { org, name, template } satisfies RequestBody<'/devices', 'post'>),
  renameDevice: (id: string, name: string) =>
    call<void>('PATCH', `/devices/${encodeURIComponent(id)}`, { name } satisfies RequestBody<'/devices/{id}', 'patch'>),
  setDeviceTemplate: (id: string, template: string | null) =>
    call<void>('PUT', `/devices/${encodeURIComponent(id)}/template`,
      { template } satisfies RequestBody<'/devices/{id}/template', 'put'>),
  deleteDevice: (id: string) => call<void>('DELETE', `/devices/${encodeURIComponent(id)}`),
  newToken: (id: string) => call<{ token: string }>('POST', `/devices/${encodeURIComponent(id)}/token`),
  templates: () => call<Template[]>('GET', '/templates'),
  createTemplate: (org: string, name: string, definition: Definition) =>
    call<{ id: string }>('POST', '/templates', { org, name, definition } satisfies RequestBody<'/templates', 'post'>),
  editTemplate: (id: string, definition: Definition) =>
    call<void>('PATCH', `/templates/${encodeURIComponent(id)}`, { definition } satisfies RequestBody<'/templates/{id}', 'patch'>),
  deleteTemplate: (id: string) => call<void>('DELETE', `/templates/${encodeURIComponent(id)}`),
  inbox: () => call<Waiting[]>('GET', '/ble/inbox'),
  dismiss: (mac: string) => call<void>('DELETE', `/ble/inbox/${encodeURIComponent(mac)}`),
  adopt: (mac: string, body: RequestBody<'/ble/inbox/{mac}/adopt', 'post'>) =>
    call<{ id: string }>('POST', `/ble/inbox/${encodeURIComponent(mac)}/adopt`, body),
  bridges: () => call<Bridge[]>('GET', '/bridges'),
  addBridge: (org: string, name: string) =>
    call<Answer<'/bridges', 'post', 201>>('POST', '/bridges', { org, name } satisfies RequestBody<'/bridges', 'post'>),
  revokeBridge: (id: string) => call<void>('DELETE', `/bridges/${encodeURIComponent(id)}`),
  syncStatus: () => call<SyncStatus>('GET', '/sync/status'),
  hubs: () => call<HubView[]>('GET', '/hubs'),
  pairHub: () => call<PairingCode>('POST', '/hubs/pairing', {}),
  revokeHub: (id: string) => call<Answer<'/hubs/{id}', 'delete'>>('DELETE', `/hubs/${encodeURIComponent(id)}`),
  linkCloud: (url: string, code: string, fingerprint?: string) =>
    call<Answer<'/cloud/link', 'post'>>('POST', '/cloud/link', { url, code, fingerprint } satisfies RequestBody<'/cloud/link', 'post'>),
  changePassword: (current: string, password: string) =>
    call<void>("POST", "/me/password", { current, new: password } satisfies RequestBody<"/me/password", "post">),
};

/** A household the person is logged into on the cloud, described as they
 * may see it (their own organizations' names). */
export type CloudHousehold = CloudAnswer<'/me', 'get'>['households'][number];
/** A device of any of their households, with the household it is in. */
export type CloudDevice = CloudAnswer<'/devices', 'get'>[number];

/** The cloud's own API (`/cloud/v1`): one login across households. */
export const cloud = {
  login: (email: string, password: string) =>
    call<CloudAnswer<'/login', 'post'>>(
      'POST',
      '/login',
      { email, password, cookie: true } satisfies CloudBody<'/login', 'post'>,
      '/cloud/v1',
    ),
  me: () => call<CloudAnswer<'/me', 'get'>>('GET', '/me', undefined, '/cloud/v1'),
  devices: () => call<CloudAnswer<'/devices', 'get'>>('GET', '/devices', undefined, '/cloud/v1'),
  logout: () => call<void>('POST', '/logout', undefined, '/cloud/v1'),
};
