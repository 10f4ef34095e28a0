/**
 * Talking to Earshot's REST API from a page: JSON in and out, the session's CSRF token in X-CSRFToken,
 * and every failure as an ApiError carrying the server's code and message.
 */

export class ApiError extends Error {
  constructor(status, code, message, details = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

export function csrfToken() {
  for (const part of document.cookie.split(";")) {
    const [name, ...rest] = part.trim().split("=");
    if (name === "csrftoken") return decodeURIComponent(rest.join("="));
  }
  return "";
}

async function readJson(response) {
  const text = await response.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

export async function postJson(url, body, { keepalive = false } = {}) {
  let response;
  try {
    response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      keepalive,
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "X-CSRFToken": csrfToken(),
      },
      body: JSON.stringify(body ?? {}),
    });
  } catch {
    throw new ApiError(0, "network", "Could not reach the server. Check your connection and try again.");
  }
  const data = await readJson(response);
  if (!response.ok) {
    const message =
      data && typeof data.message === "string" && data.message
        ? data.message
        : `The server answered ${response.status}${response.statusText ? ` ${response.statusText}` : ""}.`;
    throw new ApiError(response.status, data?.code ?? `http_${response.status}`, message, data?.details ?? null);
  }
  return data;
}

export async function getJson(url) {
  let response;
  try {
    response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
  } catch {
    throw new ApiError(0, "network", "Could not reach the server. Check your connection and try again.");
  }
  const data = await readJson(response);
  if (!response.ok) {
    const message = data && typeof data.message === "string" && data.message ? data.message
      : `The server answered ${response.status}.`;
    throw new ApiError(response.status, data?.code ?? `http_${response.status}`, message, data?.details ?? null);
  }
  return data;
}
