// The app's service worker: keeps the app shell and its hashed assets, so
// the app opens even when the hub cannot be reached (it then says so), and
// never keeps an answer of the API, which always comes from the hub.
/// <reference lib="webworker" />
// Written by build.mjs: the shell and the assets of this build.
declare const APP_FILES: string[];
declare const APP_VERSION: string;

const worker = self as unknown as ServiceWorkerGlobalScope;
const CACHE = `hearth-app-${APP_VERSION}`;

worker.addEventListener('install', (event) => {
  event.waitUntil(
    caches.open(CACHE).then((cache) => cache.addAll(APP_FILES)).then(() => worker.skipWaiting()),
  );
});

worker.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith('hearth-app-') && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => worker.clients.claim()),
  );
});

worker.addEventListener('fetch', (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== 'GET' || url.origin !== worker.location.origin) return;
  // Nothing of an API: the hub's, the cloud's, or a household's on the cloud.
  const api = /^\/(api|external|cloud)\/|^\/metrics$|^\/tenants\/[^/]+\/api\//;
  if (api.test(url.pathname)) return;
  if (request.mode === 'navigate') {
    // The newest shell from the hub when it answers, else the kept one.
    event.respondWith(
      fetch(request).catch(async () => (await caches.match('/index.html', { cacheName: CACHE })) ?? Response.error()),
    );
    return;
  }
  event.respondWith(caches.match(request, { cacheName: CACHE }).then((kept) => kept ?? fetch(request)));
});
