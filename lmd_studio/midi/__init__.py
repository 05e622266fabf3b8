"""lmd_studio.midi"""
