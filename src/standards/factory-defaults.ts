/** What every YubiKey's PIV application holds from the factory (and after a reset). Public knowledge: never a secret. */
export const FACTORY_PIN = '123456';
export const FACTORY_PUK = '12345678';
export const FACTORY_MANAGEMENT_KEY_HEX = '010203040506070801020304050607080102030405060708';
export const FACTORY_RETRIES = 3;
