import type { Config } from '@docpipe/core';
import type { WebhookConfiguration } from '@docpipe/llamacloud';

/** The path of docpipe's LlamaCloud webhook receiver on the API. */
export const WEBHOOK_PATH = '/v1/webhooks/llamacloud';

/**
 * Webhook settings for remote jobs: when PUBLIC_URL is set, LlamaCloud calls the API's receiver
 * on every status change (signed with WEBHOOK_SIGNING_SECRET); otherwise polling alone wakes jobs.
 */
export function webhookConfigurations(config: Config): { webhookConfigurations?: WebhookConfiguration[] } {
  const { publicUrl, webhookSigningSecret } = config.api;
  if (!publicUrl || !webhookSigningSecret) return {};
  return {
    webhookConfigurations: [
      {
        webhook_url: new URL(WEBHOOK_PATH, publicUrl).toString(),
        webhook_signing_secret: webhookSigningSecret,
        webhook_output_format: 'json',
      },
    ],
  };
}
