/** Why an entity is in its state. Every state change carries one, so nobody sees a state without knowing why. */
export interface StateReason {
  code: string;
  message: string;
}
