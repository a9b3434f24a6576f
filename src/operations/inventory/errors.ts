import { PivEnrollError } from '../../errors.js';

/** The inventory cannot be opened, migrated, read or written. */
export class InventoryError extends PivEnrollError {}
