// Runtime settings, read from config.json next to index.html (lake serve writes the local one;
// in AWS the CDK deployment writes it with the Cognito hosted UI and the API path):
//   {"auth": "local" | "cognito", "api": "/v1",
//    "cognito": {"domain": "https://....auth.<region>.amazoncognito.com", "clientId": "...",
//                "redirectUri": "https://<distribution>/"}}
export async function loadConfig() {
  const response = await fetch('./config.json', { cache: 'no-store' });
  if (!response.ok) throw new Error(`config.json: HTTP ${response.status}`);
  const config = await response.json();
  return { api: '/v1', auth: 'local', ...config };
}
