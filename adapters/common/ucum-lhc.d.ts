// Minimal typings for @lhncbc/ucum-lhc (the package ships none): only what adapters/common/ucum.ts uses.
declare module '@lhncbc/ucum-lhc' {
  interface ValidationResult {
    status: 'valid' | 'invalid' | 'error';
    ucumCode: string | null;
    msg: string[];
  }
  interface UcumLhcUtils {
    validateUnitString(unit: string, suggest?: boolean, valConv?: string): ValidationResult;
  }
  export const UcumLhcUtils: { getInstance(): UcumLhcUtils };
}
