// Sign-in. Local: a token from `lake token` (pasted, or handed over by `lake serve --open` in the
// URL fragment, which never reaches a server). AWS: the Cognito hosted UI, authorization code
// grant with PKCE (RFC 7636, S256); the ID token carries the user's groups (cognito:groups).
// The token lives in sessionStorage: gone when the tab closes.
const KEY = 'surgical-lake.token';
const PKCE = 'surgical-lake.pkce';

export function token() {
  return sessionStorage.getItem(KEY);
}

export function signOut() {
  sessionStorage.removeItem(KEY);
}

export function useToken(value) {
  sessionStorage.setItem(KEY, value.trim());
}

/** Claims of a JWT, unverified (for display and expiry only: the API verifies). */
export function claims(jwt) {
  try {
    const part = jwt.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), '=')));
  } catch {
    return null;
  }
}

export function expired(jwt) {
  const c = claims(jwt);
  return !c || (c.exp && c.exp * 1000 < Date.now());
}

/** `#token=...` from `lake serve --open`: keep it and drop it from the address bar. */
export function takeTokenFromFragment() {
  const match = location.hash.match(/^#token=([^&]+)/);
  if (!match) return false;
  useToken(decodeURIComponent(match[1]));
  history.replaceState(null, '', `${location.pathname}${location.search}#/overview`);
  return true;
}

function base64url(bytes) {
  return btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export async function startCognito(cognito) {
  const verifier = base64url(crypto.getRandomValues(new Uint8Array(48)));
  const state = base64url(crypto.getRandomValues(new Uint8Array(16)));
  const challenge = base64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
  sessionStorage.setItem(PKCE, JSON.stringify({ verifier, state, hash: location.hash }));
  const query = new URLSearchParams({
    response_type: 'code', client_id: cognito.clientId, redirect_uri: cognito.redirectUri,
    scope: 'openid email', state, code_challenge_method: 'S256', code_challenge: challenge,
  });
  location.assign(`${cognito.domain}/oauth2/authorize?${query}`);
}

/** Back from the hosted UI with ?code=&state=: exchange the code for tokens (PKCE verifier). */
export async function finishCognito(cognito) {
  const params = new URLSearchParams(location.search);
  const code = params.get('code');
  if (!code) return false;
  const saved = JSON.parse(sessionStorage.getItem(PKCE) || '{}');
  sessionStorage.removeItem(PKCE);
  if (!saved.state || saved.state !== params.get('state')) throw new Error('sign-in state mismatch: sign in again');
  const response = await fetch(`${cognito.domain}/oauth2/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code', client_id: cognito.clientId, code,
      redirect_uri: cognito.redirectUri, code_verifier: saved.verifier,
    }),
  });
  if (!response.ok) throw new Error(`sign-in failed (HTTP ${response.status})`);
  useToken((await response.json()).id_token);
  history.replaceState(null, '', `${location.pathname}${saved.hash || '#/overview'}`);
  return true;
}
