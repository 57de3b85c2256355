// Picks the GPIO provider a board names: rpio on a Raspberry Pi, the simulator elsewhere.
import type { Logger } from '../../util/log.ts';
import type { GpioProvider } from '../io.ts';
import { RpioGpio, type RpioGpioInit } from './rpio-gpio.ts';
import { SimGpio, type SimGpioInit } from './sim-gpio.ts';

export const GPIO_PROVIDERS = ['rpio', 'sim'] as const;
export type GpioProviderName = (typeof GPIO_PROVIDERS)[number];

export interface GpioProviderOptions {
  /** Default: silent. */
  logger?: Logger;
  /** Simulator options (state file, wires); used when `name` is `sim`. */
  sim?: SimGpioInit;
  /** rpio options (mock board, loader); used when `name` is `rpio`. */
  rpio?: RpioGpioInit;
}

/** Builds the provider `name`; rpio is loaded only here, when asked for. */
export function gpioProvider(name: string, options: GpioProviderOptions = {}): GpioProvider {
  const components = options.logger ? { logger: options.logger } : {};
  switch (name) {
    case 'sim':
      return new SimGpio(components, options.sim ?? {});
    case 'rpio':
      return new RpioGpio(components, options.rpio ?? {});
    default:
      throw new Error(`unknown GPIO provider "${name}"; known: ${GPIO_PROVIDERS.join(', ')}`);
  }
}
