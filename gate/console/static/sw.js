// The console's service worker (served at /sw.js, scope "/"): it makes the host page an
// installable app and shows its system notifications. The host page keeps a WebSocket to the
// console (/api/host/live) and asks this worker to show each notification, because phones
// allow notifications only through a service worker. Nothing is cached: the console is
// useless without the gate anyway, and a stale page must never show stale visitors.
self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

// A tap on the notification brings the host page (open or not) to the front.
self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = event.notification.data?.url || "/#host";
  event.waitUntil(self.clients.matchAll({ type: "window", includeUncontrolled: true }).then((pages) => {
    for (const page of pages) if ("focus" in page) return page.focus();
    return self.clients.openWindow(url);
  }));
});
