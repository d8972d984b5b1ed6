export declare const LAYERS: Record<string, string[]>;
export declare function findProblems(graph: Map<string, string[]>): string[];
export declare function importGraph(): Map<string, string[]>;
