// A short human label for the device a session was started on, from its User-Agent: "Chrome on
// Windows", "Safari on iPhone", "curl". Good enough for a person to recognise their own devices;
// never used for a decision (a User-Agent is whatever the client says). No location: we have no
// GeoIP database, so the device list shows the IP address and invents nothing.

export interface DeviceParts {
  /** A browser ("Chrome"), or a tool or library that is not one ("curl"). */
  client?: string;
  os?: string;
  /** True for command-line tools and HTTP libraries: the label is the tool alone. */
  tool?: boolean;
}

/** Tools and libraries, matched at the start of the string (case-insensitive). */
const TOOLS: [RegExp, string][] = [
  [/^curl\//i, 'curl'],
  [/^wget\//i, 'Wget'],
  [/^httpie\//i, 'HTTPie'],
  [/^python-requests\//i, 'Python requests'],
  [/^python-httpx\//i, 'Python httpx'],
  [/^python-urllib\//i, 'Python urllib'],
  [/^aiohttp\//i, 'Python aiohttp'],
  [/^okhttp\//i, 'OkHttp'],
  [/^go-http-client\//i, 'Go HTTP client'],
  [/^node-fetch\b/i, 'Node.js'],
  [/^node\b/i, 'Node.js'],
  [/^undici\b/i, 'Node.js'],
  [/^axios\//i, 'axios'],
  [/^postmanruntime\//i, 'Postman'],
  [/^insomnia\//i, 'Insomnia'],
  [/^java\//i, 'Java'],
  [/^apache-httpclient\//i, 'Java'],
  [/^ruby\b/i, 'Ruby'],
  [/^guzzlehttp\//i, 'PHP Guzzle'],
  [/^dart\//i, 'Dart'],
];

/** Browsers, most specific first: Edge and Opera also say Chrome, Chrome also says Safari. */
const BROWSERS: [RegExp, string][] = [
  [/\bEdg(e|A|iOS)?\//, 'Edge'],
  [/\b(OPR|Opera|OPT)\//, 'Opera'],
  [/\bSamsungBrowser\//, 'Samsung Internet'],
  [/\bVivaldi\//, 'Vivaldi'],
  [/\bYaBrowser\//, 'Yandex Browser'],
  [/\b(Firefox|FxiOS)\//, 'Firefox'],
  [/\b(Chrome|HeadlessChrome|CriOS|Chromium)\//, 'Chrome'],
  [/\bVersion\/[\d.]+.*\bSafari\//, 'Safari'],
  [/\b(MSIE |Trident\/)/, 'Internet Explorer'],
];

/** Systems, most specific first: Android says Linux, iPhone says "like Mac OS X". */
const SYSTEMS: [RegExp, string][] = [
  [/\biPhone\b/, 'iPhone'],
  [/\biPad\b/, 'iPad'],
  [/\biPod\b/, 'iPod'],
  [/\bAndroid\b/, 'Android'],
  [/\bCrOS\b/, 'ChromeOS'],
  [/\bWindows\b/, 'Windows'],
  [/\bMacintosh\b|\bMac OS X\b/, 'macOS'],
  [/\bLinux\b|\bX11\b/, 'Linux'],
];

const first = (list: [RegExp, string][], ua: string) => list.find(([re]) => re.test(ua))?.[1];

export function deviceParts(userAgent: string | null | undefined): DeviceParts {
  const ua = (userAgent ?? '').trim();
  if (!ua) return {};
  const tool = first(TOOLS, ua);
  if (tool) return { client: tool, tool: true };
  const os = first(SYSTEMS, ua);
  // An app's own client ("Keyturn Desktop/2.1 (Windows)") or anything else: the system alone.
  const client = /^Mozilla\/|^Opera\//.test(ua) ? first(BROWSERS, ua) : undefined;
  return { ...(client ? { client } : {}), ...(os ? { os } : {}) };
}

/** "Chrome on Windows", "Safari on iPhone", "curl", "Android", or "Unknown device". */
export function deviceLabel(userAgent: string | null | undefined): string {
  const { client, os, tool } = deviceParts(userAgent);
  if (tool && client) return client;
  if (client && os) return `${client} on ${os}`;
  return client ?? os ?? 'Unknown device';
}
