/**
 * RFC 4514 distinguished names as users type them ("CN=gofish543,O=Example\, Inc."), to the attribute
 * list the certificate builder takes (most significant first, the reverse of the string's order).
 */
import { attributeOid, type NameAttribute } from '../crypto/x509.js';
import { UsageError } from '../errors.js';

function splitUnescaped(text: string, separator: string): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\\' && i + 1 < text.length) {
      current += c + text[i + 1];
      i++;
    } else if (c === separator) {
      parts.push(current);
      current = '';
    } else current += c;
  }
  parts.push(current);
  return parts;
}

function unescape(value: string): string {
  return value.replace(/\\([0-9a-fA-F]{2})|\\(.)/g, (_, hex: string | undefined, char: string | undefined) => (hex ? String.fromCharCode(parseInt(hex, 16)) : char!));
}

/** A subject template (a site policy's `subject: "CN={user},O=Example"`) with a user name put in, RFC 4514-escaped as subjectForUser does. */
export function subjectFromTemplate(template: string, user: string): string {
  return template.replaceAll('{user}', user.replace(/([,+"\\<>;=])/g, '\\$1'));
}

export function parseDistinguishedName(text: string): NameAttribute[] {
  if (text.trim() === '') throw new UsageError('the subject is empty; give e.g. --subject "CN=gofish543"');
  const attributes: NameAttribute[] = [];
  for (const rdn of splitUnescaped(text, ',')) {
    if (splitUnescaped(rdn, '+').length > 1) throw new UsageError(`multi-valued name parts ("${rdn.trim()}") are not supported in --subject`);
    const equals = rdn.indexOf('=');
    if (equals <= 0) throw new UsageError(`"${rdn.trim()}" in the subject is not TYPE=value (RFC 4514, e.g. CN=gofish543,O=Example)`);
    const type = rdn.slice(0, equals).trim();
    const value = unescape(rdn.slice(equals + 1).trim());
    if (!attributeOid(type)) throw new UsageError(`unknown attribute type "${type}" in the subject; use CN, O, OU, C, L, ST, DC, UID, emailAddress or a dotted OID`);
    if (value === '') throw new UsageError(`"${type}" in the subject has an empty value`);
    if (attributeOid(type) === '2.5.4.6' && !/^[A-Z]{2}$/.test(value)) throw new UsageError(`C (country) must be two capital letters, not "${value}"`);
    attributes.push({ type: type.toUpperCase() === 'EMAILADDRESS' ? 'emailAddress' : type.toUpperCase(), value });
  }
  return attributes.reverse();
}
