// What test/fake-iterable/global-setup.ts provides, as the Worker-side tests see it.
import "vitest";

declare module "vitest" {
  interface ProvidedContext {
    fakeIterableUrl: string;
    iterableBundleModules: string[];
  }
}
