import { replyChecker } from '../shared/script-errors.js';

/** Domain failures of the admission scripts (small negative integers from Lua). */
export enum AdmissionCode {
  SaleNotFound = -1,
  SaleEnded = -2,
  SoldOut = -6,
  /** admit-8: the caller's lease is no longer the sale's (a paused admitter woke up). Never sent to a buyer. */
  NotLeaseHolder = -7,
}

export type AdmissionErrorCode = 'sale_not_found' | 'sale_ended' | 'sold_out';

const BY_CODE: Record<number, [AdmissionErrorCode, string]> = {
  [AdmissionCode.SaleNotFound]: ['sale_not_found', 'no such sale'],
  [AdmissionCode.SaleEnded]: ['sale_ended', 'this sale has ended'],
  [AdmissionCode.SoldOut]: ['sold_out', 'this sale is sold out'],
};

export class AdmissionError extends Error {
  override name = 'AdmissionError';
  constructor(readonly code: AdmissionErrorCode, message: string) {
    super(message);
  }
}

export const checkAdmission = replyChecker('admission', BY_CODE, (code, message) => new AdmissionError(code, message));
