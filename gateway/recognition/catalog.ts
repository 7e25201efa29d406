// PLACEHOLDER: replaced by the recognition implementation.
import type { CatalogItem } from '../services';
export function loadCatalog(_file?: string): CatalogItem[] {
  throw new Error('not implemented');
}
