// The hub's live stream (`/api/v1/stream`, a WebSocket carrying the
// session cookie): the person's device list, each device's online state
// and newest values, as they change. When the connection drops the app
// says so and reconnects with backoff; on reconnecting the hub sends the
// whole list and every value again, so nothing missed stays missing.
import { useEffect, useState } from 'preact/hooks';
import { ApiFailure, api, type Answer, type Device } from './api';
import { BASE_PATH } from './router';

export type Telemetry = Answer<'/devices/{id}/values', 'get'>;
export type LiveValue = Telemetry['values'][string];

type Message =
  | { type: 'devices'; devices: Device[] }
  | { type: 'values'; skipped: number; devices: Record<string, Telemetry> }
  | { type: 'value'; device: string; pin: string; value: string; at: number; pending: boolean }
  | { type: 'online'; device: string; online: boolean; transport: string | null; at: number }
  | { type: 'event'; device: string; code: string; description: string | null; at: number };

export interface LiveState {
  /** null until the first list arrives. */
  devices: Device[] | null;
  telemetry: Record<string, Telemetry>;
  /** When each device was last seen going offline (ms), if it did while we watched. */
  offlineSince: Record<string, number>;
  /** When each device last logged an event while we watched (ms). */
  lastEvent: Record<string, number>;
  connected: boolean;
  /** The connection closed and is being made again. */
  lost: boolean;
  /** The session ended (revoked, expired, no membership left). */
  ended: boolean;
}

const CLOSE_REVOKED = 4401;
const CLOSE_NOT_MEMBER = 4403;

export class Live {
  state: LiveState = { devices: null, telemetry: {}, offlineSince: {}, lastEvent: {}, connected: false, lost: false, ended: false };
  private socket: WebSocket | null = null;
  private listeners = new Set<(s: LiveState) => void>();
  private retry = 1000;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;

  start(): void {
    this.stopped = false;
    this.open();
  }

  stop(): void {
    this.stopped = true;
    cancelAnimationFrame(this.frame);
    this.frame = 0;
    clearTimeout(this.timer);
    this.socket?.close(1000);
    this.socket = null;
  }

  subscribe(listener: (s: LiveState) => void): () => void {
    this.listeners.add(listener);
    listener(this.state);
    return () => this.listeners.delete(listener);
  }

  private frame = 0;

  /** Applies `change` now; listeners hear of it once per animation frame,
   * however many updates arrive in between (100 values a second re-render
   * the page at most 60 times). */
  private set(change: Partial<LiveState>): void {
    this.state = { ...this.state, ...change };
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      for (const listener of this.listeners) listener(this.state);
    });
  }

  private open(): void {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const socket = new WebSocket(`${scheme}//${location.host}${BASE_PATH}/api/v1/stream`);
    this.socket = socket;
    let opened = false;
    socket.onopen = () => {
      opened = true;
      this.retry = 1000;
      this.set({ connected: true, lost: false });
    };
    socket.onmessage = (event) => this.receive(JSON.parse(String(event.data)) as Message);
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (event.code === CLOSE_REVOKED || event.code === CLOSE_NOT_MEMBER) {
        this.set({ connected: false, ended: true });
        return;
      }
      this.set({ connected: false, lost: !this.stopped });
      if (this.stopped) return;
      // A handshake the hub refused (an expired or revoked session) closes
      // as 1006, never 4401: ask the hub whether the session still holds.
      if (!opened) {
        api.me().catch((e) => {
          if (e instanceof ApiFailure && e.status === 401) {
            this.stopped = true;
            clearTimeout(this.timer);
            this.set({ lost: false, ended: true });
          }
        });
      }
      // Jittered backoff up to 30 s: a hub coming back is not stampeded.
      const wait = this.retry * (0.5 + Math.random() / 2);
      this.retry = Math.min(this.retry * 2, 30_000);
      this.timer = setTimeout(() => this.open(), wait);
    };
  }

  private receive(message: Message): void {
    const telemetry = this.state.telemetry;
    switch (message.type) {
      case 'devices':
        this.set({ devices: message.devices });
        break;
      case 'values':
        this.set({ telemetry: { ...telemetry, ...message.devices } });
        break;
      case 'value': {
        const current = telemetry[message.device];
        if (!current) break;
        const values = { ...current.values, [message.pin]: { value: message.value, at: message.at, ...(message.pending ? { pending: message.value } : {}) } };
        this.set({ telemetry: { ...telemetry, [message.device]: { ...current, values } } });
        break;
      }
      case 'online': {
        const current = telemetry[message.device];
        if (!current) break;
        const online = message.online && message.transport
          ? { transport: message.transport, since: message.at, heartbeat_secs: current.online?.heartbeat_secs ?? 0 }
          : null;
        const offlineSince = message.online ? this.state.offlineSince : { ...this.state.offlineSince, [message.device]: message.at };
        this.set({ telemetry: { ...telemetry, [message.device]: { ...current, online } }, offlineSince });
        break;
      }
      case 'event':
        this.set({ lastEvent: { ...this.state.lastEvent, [message.device]: message.at } });
        break;
    }
  }
}

/** The live state, re-rendered as it changes, for as long as the component is shown. */
export function useLive(live: Live): LiveState {
  const [state, setState] = useState(live.state);
  useEffect(() => live.subscribe(setState), [live]);
  return state;
}
