/**
 * The failsafe's messages: a signed question of a primary, a signed answer
 * of a voucher (src/keeper/failsafe.ts says why and how they are used).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { MAX_ASKED_LEASE_MS, MIN_ASKED_LEASE_MS } from './failsafe-state.js';

export const VOUCH_PATH = '/failsafe/vouch';
export const SIGNATURE_HEADER = 'x-pgaf-signature';

// ---------------------------------------------------------------------------
// Signatures and messages

export function sign(secret: string, body: string): string {
  return createHmac('sha256', secret).update(body).digest('hex');
}

export function verify(secret: string, body: Buffer | string, signature: string | undefined): boolean {
  if (secret === '' || signature === undefined || !/^[0-9a-f]{64}$/.test(signature)) return false;
  const expected = Buffer.from(sign(secret, typeof body === 'string' ? body : body.toString('utf8')), 'hex');
  return timingSafeEqual(expected, Buffer.from(signature, 'hex'));
}

export const questionSchema = z.object({
  v: z.literal(1),
  kind: z.literal('vouch-question'),
  formation: z.string().max(256),
  group: z.number().int(),
  from: z.number().int(),
  to: z.number().int(),
  leaseMs: z.number().int().min(MIN_ASKED_LEASE_MS).max(MAX_ASKED_LEASE_MS),
  nonce: z.string().regex(/^[0-9a-f]{32}$/),
}).strict();
export type VouchQuestion = z.infer<typeof questionSchema>;

const answerSchema = z.object({
  v: z.literal(1),
  kind: z.literal('vouch-answer'),
  from: z.number().int(),
  to: z.number().int(),
  nonce: z.string(),
  yes: z.boolean(),
  reason: z.string().max(500),
}).strict();
export type VouchAnswer = z.infer<typeof answerSchema>;

/** The answer of a voucher to one question, or why it is not valid. */
export function checkAnswer(secret: string, question: VouchQuestion, body: string, signature: string | undefined):
{ ok: true; answer: VouchAnswer } | { ok: false; reason: string } {
  if (!verify(secret, body, signature)) return { ok: false, reason: 'the answer is not signed with the group secret' };
  let parsed;
  try {
    parsed = answerSchema.safeParse(JSON.parse(body));
  } catch {
    return { ok: false, reason: 'the answer is not JSON' };
  }
  if (!parsed.success) return { ok: false, reason: 'the answer is malformed' };
  const answer = parsed.data;
  if (answer.nonce !== question.nonce || answer.from !== question.to || answer.to !== question.from) {
    return { ok: false, reason: 'the answer does not answer this question (replayed?)' };
  }
  return { ok: true, answer };
}

