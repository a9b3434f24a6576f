import { PivEnrollError } from '../errors.js';

/** Bytes from a card (or a host) that do not follow the encoding they claim to follow. */
export class MalformedDataError extends PivEnrollError {}
