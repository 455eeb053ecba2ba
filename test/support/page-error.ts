/** The PageError a page-store promise rejects with; fails the test if it resolves or throws otherwise. */
import { PageError } from "../../src/pages/page-error.ts";

export async function pageError(promise: Promise<unknown>): Promise<PageError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof PageError) return error;
    throw error;
  }
  throw new Error("expected a PageError");
}
