// GPIO providers behind the `GpioProvider` interface of ../io.ts: `rpio` drives a Raspberry
// Pi's header (native module, loaded lazily), `sim` is an in-memory header with wires, driven
// inputs and an optional state file. Drivers never import a provider; main.ts picks one.
export { gpioProvider, GPIO_PROVIDERS, type GpioProviderName, type GpioProviderOptions } from './provider.ts';
export { GpioUnavailableError, RpioGpio, type RpioGpioComponents, type RpioGpioInit, type RpioModule } from './rpio-gpio.ts';
export {
  readSimStateFile, SimGpio, type Level, type PinMode, type SimGpioComponents, type SimGpioInit, type SimPinState, type SimWire,
} from './sim-gpio.ts';
