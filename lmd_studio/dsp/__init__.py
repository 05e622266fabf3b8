"""lmd_studio.dsp"""
