import { LatencyRecorder } from './latency.ts'

/** The retailer's purchase states and the step that ends in each (decision 0306: capture before the licence). */
const STEP_ENDING_IN = {
  authorised: 'authorise',
  receipted: 'receipt',
  captured: 'capture',
  licensed: 'licence',
} as const

export type PurchaseStep = (typeof STEP_ENDING_IN)[keyof typeof STEP_ENDING_IN]
export const PURCHASE_STEPS: readonly PurchaseStep[] = Object.values(STEP_ENDING_IN)

/**
 * The time each step of the retailer's purchase machine takes, from the `purchase` events its desk dispatches at
 * every state it writes (started → authorised → receipted → captured → licensed): the clearinghouse's authorisation,
 * the receipt signed and stored, the capture (the clearinghouse's round trip that signs the `consort/payment`), the
 * registrar's licence against that payment. Measured only while `measuring` is set, so that concurrent purchases
 * (where steps queue behind one another) stay out of the figures.
 */
export class PurchaseSteps {
  readonly #target: EventTarget
  readonly #last = new Map<string, number>()
  readonly #steps = new Map<PurchaseStep, LatencyRecorder>(PURCHASE_STEPS.map((s) => [s, new LatencyRecorder()]))
  measuring = false

  constructor(target: EventTarget) {
    this.#target = target
    target.addEventListener('purchase', this.#onPurchase)
  }

  readonly #onPurchase = (event: Event): void => {
    const { purchaseId, state } = (event as CustomEvent<{ purchaseId: string; state: string }>).detail
    const now = performance.now()
    const previous = this.#last.get(purchaseId)
    const step = STEP_ENDING_IN[state as keyof typeof STEP_ENDING_IN]
    if (this.measuring && previous !== undefined && step !== undefined) this.#steps.get(step)!.record(now - previous)
    if (state === 'licensed' || state === 'voided' || state === 'refunded') this.#last.delete(purchaseId)
    else this.#last.set(purchaseId, now)
  }

  step(step: PurchaseStep): LatencyRecorder {
    return this.#steps.get(step)!
  }

  destroy(): void {
    this.#target.removeEventListener('purchase', this.#onPurchase)
    for (const r of this.#steps.values()) r.destroy()
  }
}
