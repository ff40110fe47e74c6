// The lab's API, reached relative to the page so the app works at `/` and under a prefix.

export const PAYWALL_MESSAGE = "Maximum pageview limit reached";

/** Resolve an API path against the page's base URL (never against the site root). */
export function apiUrl(path) {
  return new URL(path, document.baseURI).href;
}

/**
 * Fetch an API path and answer `{ status, body }`, with `body` the parsed JSON or null.
 * The session cookie travels with the request: it is what counts the page views.
 * A network failure rejects, as fetch does.
 */
export async function getJson(path, { signal } = {}) {
  const response = await fetch(apiUrl(path), {
    credentials: "same-origin",
    headers: { Accept: "application/json" },
    signal,
  });
  let body = null;
  try {
    body = await response.json();
  } catch {
    // An error page that is not JSON still has a status worth reporting.
  }
  return { status: response.status, body };
}

export const listArticles = (options) => getJson("articles", options);
export const getArticle = (id, options) => getJson(`articles/${encodeURIComponent(id)}`, options);
export const clearSession = () => getJson("clear");
