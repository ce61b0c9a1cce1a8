/** One line of the explanation: the points of all lines add up to `total`. */
export interface ScoreFactor {
  factor: string;
  points: number;
  evidence: string;
}

export interface Score {
  profile: string;
  total: number;
  /** Sub-scores by component (threat, asset, user, history, …), each on the same 0–100 scale. */
  components: Record<string, number>;
  explanation: ScoreFactor[];
}
